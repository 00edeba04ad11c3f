"""The ``kvnuma`` command.

Subcommands live in their own modules (``kvnuma.cli.<name>``) and are imported only when
called, so ``kvnuma discover`` does not pay for the webhook's imports. Every subcommand's
typed failures are mapped to an exit code here, in one place:

    InputError, RuleError (bad input, or a rule the input cannot meet)  -> one line, exit 2
    anything else                                                       -> propagates
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from kvnuma.errors import KvnumaError

__all__ = ["EXIT_BAD_INPUT", "main"]

EXIT_BAD_INPUT = 2

# command name -> (module, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "discover": ("kvnuma.cli.discover", "discover", "Show this host's (or a given) NUMA topology."),
    "agent": ("kvnuma.cli.agent", "agent", "Publish this node's NUMA capacity on its Node (DaemonSet)."),
    "webhook": ("kvnuma.cli.webhook", "webhook", "Serve the auto-NUMA admission webhook (VEP 135)."),
    "admit": ("kvnuma.cli.admit", "admit", "Run the auto-NUMA admission decision offline."),
    "render": ("kvnuma.cli.render", "render", "Render libvirt domain XML for a VMI's guest NUMA layout."),
    "plan": ("kvnuma.cli.plan", "plan", "Show topology, auto-NUMA decision, guest layout and domain XML."),
    "hook": ("kvnuma.cli.hook", "hook", "KubeVirt hook-sidecar entry point (PCI NUMA placement)."),
    "migrate-check": (
        "kvnuma.cli.migrate_check",
        "migrate_check",
        "Will this VM's NUMA layout survive a live migration?",
    ),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        available = []
        for name, (module, _attr, _help) in _COMMANDS.items():
            if importlib.util.find_spec(module) is not None:
                available.append(name)
        return sorted(available)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, _help = entry
        if importlib.util.find_spec(module_name) is None:
            return None
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KvnumaError as error:
            click.echo(f"kvnuma: error: {error.one_line()}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kvnuma")
def cli() -> None:
    """kvnuma: NUMA-aware virtual machines on Kubernetes (KubeVirt)."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="kvnuma")
