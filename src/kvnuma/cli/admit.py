"""``kvnuma admit``: the webhook's decision, offline, on one AdmissionReview file."""

from __future__ import annotations

from pathlib import Path

import click

from kvnuma.admission import AdmissionConfig, Mode, decide
from kvnuma.cli.output import dumps_json, write_text
from kvnuma.errors import InputError
from kvnuma.inputs import read_document
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.file_source import load_folder, parse_source

__all__ = ["admit"]


@click.command(help="Run the auto-NUMA admission decision (VEP 135) on an AdmissionReview, offline.")
@click.option(
    "--review", "review_path", type=click.Path(path_type=Path), required=True, help="AdmissionReview v1."
)
@click.option(
    "--source", default="", help="file:DIR with the cluster's Nodes and KubeVirt CR (default: none)."
)
@click.option(
    "--mode", type=click.Choice([m.value for m in Mode]), default=Mode.SKIP.value, show_default=True
)
@click.option(
    "--enabled/--disabled",
    "enabled",
    default=None,
    help="Override the KubeVirt CR's developerConfiguration.autoNUMAEnablement.",
)
@click.option("--explain", is_flag=True, help="Also print the outcome, reason and decoded patch on stderr.")
def admit(review_path: Path, source: str, mode: str, enabled: bool | None, explain: bool) -> None:
    review = read_document(review_path)
    cache = ClusterCache()
    if source:
        folder = parse_source(source)
        if folder is None:
            raise InputError("--source", "kvnuma admit reads a folder only: use file:DIR")
        load_folder(folder, cache)
    config = AdmissionConfig(enabled=cache.enabled if enabled is None else enabled, mode=Mode(mode))
    try:
        decision = decide(review, cache.capacity(), config)
    except InputError as error:
        raise error.under(str(review_path)) from None
    write_text(dumps_json(decision.response()))
    if explain:
        click.echo(f"cluster: {cache.capacity().describe()}; autoNUMAEnablement: {config.enabled}", err=True)
        click.echo(f"outcome: {decision.outcome.value}: {decision.reason}", err=True)
        if decision.patch:
            click.echo("patch: " + dumps_json(list(decision.patch)).strip(), err=True)
