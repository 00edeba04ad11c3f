"""The options kvnuma's commands share, defined once so that each means one thing everywhere,
and the CLI's one host loader.

    --vmi FILE            the VMI, or a VirtualMachine with its instance type (YAML/JSON; - = stdin)
    --sysfs ROOT          the host, from a sysfs tree (default of the commands that read this host)
    --capabilities FILE   the host, from a saved ``virsh capabilities`` XML (- = stdin)
    --libvirt URI         the host, from a running libvirt (qemu:///system)
    --cpuset LIST         the pod's dedicated CPUs (a CPU list, e.g. 2-5,10-12)
    --source SOURCE       where the cluster comes from (admit, webhook): kube or file:DIR
    -o, --output FORMAT   the document format: table, json, yaml (+ what a command adds)

(``kvnuma hook onDefineDomain --vmi JSON --domain XML`` is KubeVirt's hook-sidecar contract, not
a kvnuma option: there ``--vmi`` is the VMI's JSON text, as KubeVirt passes it.)

``Choice`` is click's choice whose error names the closest valid value (``did you mean``), the
same for option values, policy names and feature gates (``closest``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from kvnuma.model import HostTopology

__all__ = [
    "HOST_OPTIONS",
    "Choice",
    "check_spelling",
    "closest",
    "cpuset_option",
    "did_you_mean",
    "host_options",
    "load_host",
    "output_option",
    "vmi_option",
]

_F = TypeVar("_F", bound=Callable[..., Any])

HOST_OPTIONS = ("--sysfs", "--capabilities", "--libvirt")


def closest(value: str, choices: Iterable[str]) -> str | None:
    """The valid value ``value`` most likely meant: the same but for case, else difflib's
    closest match (None when nothing is close)."""
    options = list(choices)
    folded = {choice.casefold(): choice for choice in options}
    if value.casefold() in folded:
        return folded[value.casefold()]
    match = difflib.get_close_matches(value.casefold(), list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else None


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """``did you mean 'x'?`` when a valid value is close, else ``expected one of ...``."""
    options = list(choices)
    guess = closest(value, options)
    if guess is not None:
        return f"did you mean {guess!r}?"
    return "expected one of " + ", ".join(repr(choice) for choice in options)


class Choice(click.Choice[str]):
    """click's Choice (case-sensitive), whose error names the closest valid value."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value not in self.choices:
            self.fail(f"{value!r}, {did_you_mean(value, map(str, self.choices))}", param, ctx)
        return super().convert(value, param, ctx)


def output_option(*formats: str, default: str | None = None) -> Callable[[_F], _F]:
    """``-o/--output FORMAT`` among ``formats`` (the first is the default)."""
    return click.option(
        "-o",
        "--output",
        type=Choice(formats),
        default=default or formats[0],
        show_default=True,
        help="Output format.",
    )


def vmi_option(*, required: bool = True) -> Callable[[_F], _F]:
    """``--vmi FILE``, passed as ``vmi_path``."""
    return click.option(
        "--vmi",
        "vmi_path",
        required=required,
        metavar="FILE",
        type=click.Path(path_type=Path, allow_dash=True),
        help="The VMI, or a VirtualMachine (YAML/JSON) with --instancetype/--preference; - reads stdin.",
    )


def cpuset_option(*, required: bool, default_help: str = "") -> Callable[[_F], _F]:
    """``--cpuset LIST``: the pod's dedicated CPUs."""
    text = "The pod's dedicated CPUs, e.g. 2-5,10-12" + (
        f" (default: {default_help})." if default_help else "."
    )
    return click.option("--cpuset", required=required, metavar="LIST", help=text)


def host_options(*, default: str = "/sys") -> Callable[[_F], _F]:
    """``--sysfs ROOT``, ``--capabilities FILE``, ``--libvirt URI`` (at most one), passed as
    ``sysfs``, ``capabilities``, ``libvirt_uri`` for ``load_host``; ``default`` names what is read
    when none is given (for the help text)."""

    def decorate(command: _F) -> _F:
        for option in reversed(
            (
                click.option(
                    "--sysfs",
                    metavar="ROOT",
                    type=click.Path(path_type=Path),
                    help=f"Read the host from a sysfs tree (default: {default}).",
                ),
                click.option(
                    "--capabilities",
                    metavar="FILE",
                    type=click.Path(path_type=Path, allow_dash=True),
                    help="Read the host from a saved `virsh capabilities` XML (- reads stdin).",
                ),
                click.option(
                    "--libvirt",
                    "libvirt_uri",
                    metavar="URI",
                    help="Ask a running libvirt for the host (e.g. qemu:///system).",
                ),
            )
        ):
            command = option(command)
        return command

    return decorate


def load_host(
    sysfs: Path | None,
    capabilities: Path | None,
    libvirt_uri: str | None,
    *,
    required: bool = False,
) -> HostTopology:
    """The host from the one source given; this host's ``/sys`` when none is (unless
    ``required``). Two sources, or none when one is required, are usage errors."""
    given = [
        flag
        for flag, value in zip(HOST_OPTIONS, (sysfs, capabilities, libvirt_uri), strict=True)
        if value is not None
    ]
    if len(given) > 1:
        raise click.UsageError(f"give at most one host source, not {' and '.join(given)}")
    if capabilities is not None:
        from kvnuma.inputs import name_of, read_text
        from kvnuma.topology.capabilities import parse_capabilities

        return parse_capabilities(read_text(capabilities), source=name_of(capabilities))
    if libvirt_uri is not None:
        from kvnuma.topology.libvirt_host import read_libvirt

        return read_libvirt(libvirt_uri)
    if sysfs is None and required:
        raise click.UsageError("give the host: --sysfs ROOT, --capabilities FILE or --libvirt URI")
    from kvnuma.topology.sysfs import read_sysfs

    return read_sysfs(os.fspath(sysfs) if sysfs is not None else "/sys")


def check_spelling(values: Collection[str], known: Collection[str], *, flag: str) -> None:
    """A value that is not one of ``known`` but close to one (another case, a typo) is a usage
    error naming the closest; values unlike any known one pass (e.g. KubeVirt gates kvnuma
    does not act on)."""
    for value in values:
        guess = None if value in known else closest(value, known)
        if guess is not None:
            raise click.BadParameter(f"unknown {value!r}, did you mean {guess!r}?", param_hint=flag)
