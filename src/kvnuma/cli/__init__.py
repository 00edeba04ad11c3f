"""The ``kvnuma`` command.

Subcommands live in their own modules (``kvnuma.cli.<name>``) and are imported only when
called, so ``kvnuma discover`` does not pay for the webhook's imports. Every subcommand's
typed failures are mapped to an exit code here, in one place (``BadInput``):

    InputError, RuleError (bad input, or a rule the input cannot meet)  -> one line, exit 2
    anything else                                                       -> propagates

Start-up time is most of what ``kvnuma discover -o json`` costs, so this module does not import
click: the click group is built on first use (``cli``), and ``main`` runs ``kvnuma discover``
with plain arguments (``kvnuma.cli.discover.plain_options``) straight away. Anything else
(``--help``, a typo, two sources, another command) goes through click, which owns the help
text and the usage errors.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from kvnuma.errors import KvnumaError

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any, NoReturn, TypeVar

    import click

    T = TypeVar("T")

__all__ = ["EXIT_BAD_INPUT", "BadInput", "build_once", "cli", "main"]

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


class BadInput:
    """``with BadInput() as mapped:`` turns a ``KvnumaError`` into one stderr line and sets
    ``mapped.code`` to ``EXIT_BAD_INPUT`` (0 when the body finished); other exceptions pass."""

    def __init__(self) -> None:
        self.code = 0

    def __enter__(self) -> BadInput:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if not isinstance(exc, KvnumaError):
            return False
        sys.stderr.write(f"kvnuma: error: {exc.one_line()}\n")
        sys.stderr.flush()
        self.code = EXIT_BAD_INPUT
        return True


def _build_group() -> click.Group:
    import importlib
    import importlib.util

    import click

    class LazyGroup(click.Group):
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
            with BadInput() as mapped:
                return super().invoke(ctx)
            return ctx.exit(mapped.code)

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="kvnuma")
    def cli() -> None:
        """kvnuma: NUMA-aware virtual machines on Kubernetes (KubeVirt)."""

    return cli


def build_once(namespace: dict[str, Any], name: str, wanted: str, build: Callable[[], T]) -> T:
    """A module ``__getattr__``'s body: ``build()`` the attribute ``name`` when it is first
    ``wanted`` and keep it in the module (later lookups do not come here)."""
    if wanted != name:
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {wanted!r}")
    value = namespace[name] = build()
    return value


def __getattr__(name: str) -> click.Group:
    """``cli``, the click group, is built (and click imported) on first use."""
    return build_once(globals(), "cli", name, _build_group)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["discover"]:
        from kvnuma.cli.discover import plain_options, show

        options = plain_options(args[1:])
        if options is not None:
            _finish(lambda: show(**options))
    __getattr__("cli").main(args=args, prog_name="kvnuma")


def _finish(action: Callable[[], None]) -> NoReturn:
    """Run a command outside click, ending the process the way click's ``main`` would."""
    try:
        with BadInput() as mapped:
            action()
    except BrokenPipeError:  # `kvnuma discover | head`: quiet, like click
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing to flush at exit
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        sys.stderr.write("Aborted!\n")
        raise SystemExit(1) from None
    raise SystemExit(mapped.code)
