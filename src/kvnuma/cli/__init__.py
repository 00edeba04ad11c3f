"""The ``kvnuma`` command: one click group, and the CLI's one error boundary.

Subcommands live in their own modules (``kvnuma.cli.<name>``) and are imported only when run:
``LazyGroup`` is click's documented lazy group (``list_commands``/``get_command`` import the
command's module on demand), and it lists the commands in ``kvnuma --help`` from ``COMMANDS``,
so the help imports no command module (no aiohttp, no server).

Every failure of every subcommand ends here (``LazyGroup.main``, ``exit_code_for``) as one line
on stderr, ``kvnuma: error: <input>: <problem>``, and a documented exit code; ``--debug``
(before the command: ``kvnuma --debug plan ...``) also prints the traceback:

    0    done
    1    the answer is no (``migrate-check``: will not work; ``agent --once``: the cycle failed)
    2    bad input: a usage error (unknown option, bad value), kvnuma's typed errors
         (``InputError``, ``RuleError``), a file that is missing, unreadable, a directory or
         not UTF-8 text, an address that cannot be bound (port in use, unknown host)
    3    the system failed the command: no space left, an I/O error, another OS error
    70   an internal error (a bug in kvnuma): the line names the exception; please report it
    130  interrupted (Ctrl-C)

A closed stdout (``kvnuma plan | head -1``) ends the command quietly with exit 0, as standard
tools do.
"""

from __future__ import annotations

import errno
import importlib
import os
import socket
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from kvnuma.errors import KvnumaError

__all__ = [
    "COMMANDS",
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_NO",
    "EXIT_SYSTEM",
    "LazyGroup",
    "bind_problem",
    "cli",
    "describe",
    "exit_code_for",
    "main",
]

EXIT_NO = 1
EXIT_BAD_INPUT = 2
EXIT_SYSTEM = 3
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

COMMANDS: dict[str, tuple[str, str, str]] = {
    "admit": (
        "kvnuma.cli.admit",
        "admit",
        "Run the auto-NUMA admission decision (VEP 135) on an AdmissionReview, offline.",
    ),
    "agent": (
        "kvnuma.cli.agent",
        "agent",
        "Publish this node's NUMA capacity (VEP 135 annotations) on its Node (DaemonSet).",
    ),
    "discover": ("kvnuma.cli.discover", "discover", "Show this host's (or a given) NUMA topology."),
    "hook": (
        "kvnuma.cli.hook",
        "hook",
        "KubeVirt hook sidecar: put PCI hostdevs on their guest NUMA cell (pcie-expander-bus).",
    ),
    "migrate-check": (
        "kvnuma.cli.migrate_check",
        "migrate_check",
        "Will this VM's NUMA layout survive a live migration?",
    ),
    "plan": ("kvnuma.cli.plan", "plan", "Show topology, auto-NUMA decision, guest layout and domain XML."),
    "render": ("kvnuma.cli.render", "render", "Render libvirt domain XML for a VMI's guest NUMA layout."),
    "webhook": ("kvnuma.cli.webhook", "webhook", "Serve the auto-NUMA admission webhook (VEP 135)."),
}
"""command name -> (module, attribute, the one-line help ``kvnuma --help`` shows)."""

_BAD_INPUT_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.EACCES,
        errno.EPERM,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.ENXIO,
        errno.ENODEV,
        errno.ELOOP,
        errno.ENAMETOOLONG,
        errno.EADDRINUSE,
        errno.EADDRNOTAVAIL,
        errno.EEXIST,
        errno.ENOTEMPTY,
    }
)


class LazyGroup(click.Group):
    """A click group whose commands are imported on demand, and the CLI's error boundary."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attr, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attr} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from ``COMMANDS``: ``kvnuma --help`` imports no command module."""
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx) if name in COMMANDS]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _quiet_stdout()
            raise click.exceptions.Exit(0) from None

    def main(  # type: ignore[override]  # always ends the process (or returns the code)
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> int:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(argv, prog_name or "kvnuma", complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except BaseException as error:  # the one boundary: every failure ends here
            code = exit_code_for(error, debug=_debug_requested(argv))
        if standalone_mode:
            sys.exit(code)
        return code


def _debug_requested(argv: Sequence[str]) -> bool:
    """``--debug`` among the group's options (they come before the command's name)."""
    for arg in argv:
        if not arg.startswith("-"):
            return False
        if arg == "--debug":
            return True
    return False


def exit_code_for(error: BaseException, *, debug: bool = False) -> int:
    """Say what went wrong in one line on stderr (and the traceback with ``debug``); the code."""
    if isinstance(error, SystemExit):
        if isinstance(error.code, str):
            _say(error.code)
            return 1
        return error.code or 0
    if isinstance(error, click.exceptions.Exit):
        return error.exit_code
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    if isinstance(error, BrokenPipeError):
        _quiet_stdout()
        return 0
    if isinstance(error, click.Abort | KeyboardInterrupt):
        sys.stderr.write("kvnuma: interrupted\n")
        return EXIT_INTERRUPTED
    message, code = describe(error, debug=debug)
    _say(message)
    return code


def describe(error: BaseException, *, debug: bool = False) -> tuple[str, int]:
    """The one line (without ``kvnuma: error:``) and the exit code for ``error``."""
    if isinstance(error, click.UsageError):
        hint = "" if error.ctx is None else f" (see '{error.ctx.command_path} --help')"
        return f"{error.format_message().rstrip('.')}{hint}", EXIT_BAD_INPUT
    if isinstance(error, click.ClickException):
        return error.format_message(), EXIT_BAD_INPUT
    if isinstance(error, KvnumaError):
        return error.one_line(), EXIT_BAD_INPUT
    if isinstance(error, UnicodeDecodeError):
        return f"an input is not UTF-8 text ({error.reason} at byte {error.start})", EXIT_BAD_INPUT
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})", EXIT_BAD_INPUT
    if isinstance(error, OSError):
        code = EXIT_BAD_INPUT if error.errno in _BAD_INPUT_ERRNOS else EXIT_SYSTEM
        return _os_problem(error), code
    suffix = "" if debug else " (kvnuma --debug ... shows the traceback)"
    return f"internal error: {type(error).__name__}: {error}{suffix}", EXIT_INTERNAL


def bind_problem(error: OSError) -> str:
    """Why a server could not listen, in words (``InputError(flag, bind_problem(error))``)."""
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if error.errno == errno.EADDRINUSE:
        return "address already in use"
    if error.errno == errno.EADDRNOTAVAIL:
        return "not an address of this host"
    if error.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    return " ".join(str(error.strerror or error).lower().split())


def _os_problem(error: OSError) -> str:
    problem = (error.strerror or type(error).__name__).lower()
    where = [str(name) for name in (error.filename, error.filename2) if name is not None]
    if where:
        return f"{' -> '.join(where)}: {problem}"
    if error.errno in (errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT):
        return f"writing the output: {problem}"
    return problem


def _say(message: str) -> None:
    """``kvnuma: error: <message>`` as one line on stderr."""
    try:
        sys.stderr.write(f"kvnuma: error: {' '.join(message.split())}\n")
        sys.stderr.flush()
    except OSError:  # stderr itself is gone: nothing left to tell
        pass


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the exit-time flush is silent too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        from kvnuma.version import version_line

        click.echo(version_line())
        ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, is_eager=True, expose_value=False, callback=_show_version,
              help="Show the version and the git revision it was built from, then exit.")  # fmt: skip
@click.option("--debug", is_flag=True, help="On a failure, also print the traceback.")
def cli(debug: bool) -> None:
    """kvnuma: NUMA-aware virtual machines on Kubernetes (KubeVirt)."""


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point (``kvnuma``)."""
    cli.main(args=argv, prog_name="kvnuma")
