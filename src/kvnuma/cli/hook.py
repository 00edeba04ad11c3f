"""``kvnuma hook``: the KubeVirt hook-sidecar entry point and its packaging.

kvnuma hook onDefineDomain --version v1alpha3 --vmi JSON --domain XML
kvnuma hook bundle [-o FILE] [--deploy DIR]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from kvnuma.cli.output import write_file, write_text

__all__ = ["hook"]


@click.group()
def hook() -> None:
    """KubeVirt hook sidecar: put PCI hostdevs on their guest NUMA cell (pcie-expander-bus)."""


@hook.command(
    "onDefineDomain",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def on_define_domain(arguments: tuple[str, ...]) -> None:
    """onDefineDomain --vmi JSON --domain XML [--version V] [--strict] [--sysfs ROOT]"""
    from kvnuma.hook.main import run, write

    outcome = run(["onDefineDomain", *arguments], os.environ)
    write(outcome)
    sys.exit(outcome.exit_code)


@hook.command("bundle")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="write the file here")
@click.option(
    "--deploy",
    type=click.Path(file_okay=False, path_type=Path),
    help="write onDefineDomain, configmap.yaml and vm-example.yaml into this folder",
)
def bundle(output: Path | None, deploy: Path | None) -> None:
    """Emit the hook as one standard-library-only Python file (for the sidecar-shim image)."""
    from kvnuma.hook.bundle import bundle_source, deploy_files
    from kvnuma.inputs import check_output_folder, check_output_path

    if output is not None:
        check_output_path(output, option="-o")
    if deploy is not None:
        check_output_folder(deploy, option="--deploy")

    if deploy is not None:
        try:
            deploy.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(deploy)) from error
        for name, content in deploy_files().items():
            write_file(deploy / name, content, mode=0o755 if name == "onDefineDomain" else None)
        click.echo(f"wrote {', '.join(sorted(deploy_files()))} into {deploy}", err=True)
        return
    script = bundle_source()
    if output is None:
        write_text(script)
        return
    write_file(output, script, mode=0o755)
