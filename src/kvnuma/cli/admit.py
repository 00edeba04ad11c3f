"""``kvnuma admit``: the webhook's decision, offline, on one AdmissionReview file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kvnuma.admission import AdmissionConfig, Mode, decide
from kvnuma.cli.options import Choice, output_option
from kvnuma.cli.output import DATA_FORMATS, emit, write_text
from kvnuma.errors import InputError
from kvnuma.inputs import name_of, read_document
from kvnuma.webhook.cache import ClusterCache
from kvnuma.webhook.file_source import load_folder, parse_source

__all__ = ["admit"]


@click.command(help="Run the auto-NUMA admission decision (VEP 135) on an AdmissionReview, offline.")
@click.option(
    "--review",
    "review_path",
    type=click.Path(path_type=Path, allow_dash=True),
    required=True,
    help="AdmissionReview v1 (YAML/JSON; - reads stdin).",
)
@click.option(
    "--source", default="", help="file:DIR with the cluster's Nodes and KubeVirt CR (default: none)."
)
@click.option("--mode", type=Choice([m.value for m in Mode]), default=Mode.SKIP.value, show_default=True)
@click.option(
    "--enabled/--disabled",
    "enabled",
    default=None,
    help="Override the KubeVirt CR's developerConfiguration.autoNUMAEnablement.",
)
@click.option(
    "--threshold",
    type=click.Choice(["cluster", "feasible"]),
    default="cluster",
    show_default=True,
    help="cluster: the smallest NUMA node of the cluster; feasible: of the nodes the VMI can land on.",
)
@click.option(
    "--nrt",
    type=click.Choice(["off", "on"]),
    default="off",
    show_default=True,
    help="on: the folder's NodeResourceTopology objects, when valid, measure their nodes "
    "(as kvnuma webhook --nrt=on).",
)
@click.option("--explain", is_flag=True, help="Also print the outcome, reason and decoded patch on stderr.")
@output_option("json", "yaml", "table", "patch")
def admit(
    *,
    review_path: Path,
    source: str,
    mode: str,
    enabled: bool | None,
    threshold: str,
    nrt: str,
    explain: bool,
    output: str,
) -> None:
    """json/yaml: the AdmissionReview response (a Kubernetes object: its apiVersion and kind are
    its schema); table: outcome, reason, warnings and the decoded patch; patch: the JSONPatch."""
    review = read_document(review_path)
    cache = ClusterCache(feasible=threshold == "feasible", nrt=nrt == "on")
    if source:
        folder = parse_source(source)
        if folder is None:
            raise InputError("--source", "kvnuma admit reads a folder only: use file:DIR")
        load_folder(folder, cache)
    elif cache.nrt is not None:
        cache.nrt.failed("no --source folder", drop=True)
    config = AdmissionConfig(enabled=cache.enabled if enabled is None else enabled, mode=Mode(mode))
    try:
        decision = decide(review, cache.capacity_for if cache.feasible else cache.capacity(), config)
    except InputError as error:
        raise error.under(name_of(review_path)) from None
    explained = [
        f"cluster: {cache.capacity().describe()}; autoNUMAEnablement: {config.enabled}",
        f"outcome: {decision.outcome.value}: {decision.reason}",
        *(f"warning: {warning}" for warning in decision.warnings),
    ]
    if decision.patch:
        explained.append("patch: " + json.dumps(list(decision.patch), sort_keys=True))
    if output in DATA_FORMATS:
        emit(decision.response(), output)
    elif output == "patch":
        emit(list(decision.patch), "json")
    else:
        write_text("".join(line + "\n" for line in explained))
    if explain:
        for line in explained:
            click.echo(line, err=True)
