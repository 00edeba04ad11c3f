"""The ``kvnuma`` group and its one error boundary: every kind of failure, through the real entry
point, is one line on stderr and a documented exit code (``kvnuma.cli``'s docstring)."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kvnuma.cli import (
    COMMANDS,
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_SYSTEM,
    bind_problem,
    cli,
    describe,
)
from kvnuma.errors import InputError, RuleError
from support.hostbuilder import render_sysfs, synthetic_host

KVNUMA = str(Path(sys.executable).parent / "kvnuma")
ROOT = Path(__file__).resolve().parents[2]
CAPS = ROOT / "examples/engine/two-socket-smt-caps.xml"
VMI = ROOT / "examples/engine/numavm.yaml"


def test_help_lists_every_command_without_importing_any() -> None:
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(repr(sorted(m for m in sys.modules"
        " if m.startswith(('aiohttp', 'kvnuma.cli.', 'kvnuma.webhook'))))))\n"
        "from kvnuma.cli import main\n"
        "main(['--help'])\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    listed = re.findall(r"^  (\S+)", done.stdout.split("Commands:")[1], flags=re.M)
    assert listed == sorted(COMMANDS)
    assert done.stderr == "[]"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert command.get_short_help_str(limit=500) == COMMANDS[name][2]


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _fifo(tmp_path: Path) -> str:
    os.mkfifo(tmp_path / "fifo")
    return str(tmp_path / "fifo")


def _sysfs(tmp_path: Path) -> str:
    render_sysfs(synthetic_host(cells=2, cores_per_cell=2), tmp_path / "sys")
    return str(tmp_path / "sys")


Case = Callable[[Path], list[str]]
_MIGRATE = ["migrate-check", "--vmi", "v", "--source-node", "a", "--target-node", "b"]
_RENDER = ["render", "--vmi", str(VMI), "--capabilities", str(CAPS)]
_NON_UTF8 = b"<capabilities>\xff\xfe</capabilities>"


def _case(name: str, args: Case, code: int, line: str) -> object:
    return pytest.param(args, code, line, id=name)


CASES = [
    _case(
        "missing-file",
        lambda t: ["discover", "--capabilities", str(t / "no.xml")],
        2,
        r"no\.xml: no such file",
    ),
    _case("directory-as-file", lambda t: ["discover", "--capabilities", str(t)], 2, r": is a directory"),
    _case(
        "non-utf8",
        lambda t: ["discover", "--capabilities", _write(t, "caps.xml", _NON_UTF8)],
        2,
        r"caps\.xml: not UTF-8 text",
    ),
    _case(
        "binary",
        lambda t: ["discover", "--capabilities", _write(t, "caps.xml", bytes(range(1, 32)) * 4)],
        2,
        r"caps\.xml: ",
    ),
    _case(
        "missing-sysfs-root",
        lambda t: ["discover", "--sysfs", str(t / "none")],
        2,
        r"none: no such folder",
    ),
    _case(
        "fifo-without-writer",
        lambda t: ["discover", "--capabilities", _fifo(t)],
        2,
        r"fifo: a FIFO .*no writer",
    ),
    _case(
        "device-as-file",
        lambda t: ["discover", "--capabilities", "/dev/zero"],
        2,
        r"/dev/zero: input is larger",
    ),
    _case("unknown-command", lambda t: ["discver"], 2, r"No such command 'discver'"),
    _case(
        "unknown-option",
        lambda t: ["discover", "--sysf", "x"],
        2,
        r"No such option '--sysf'. Did you mean '--sysfs'\?",
    ),
    _case("bad-output", lambda t: ["discover", "-o", "xml"], 2, r"'xml', expected one of 'table', 'json'"),
    _case("misspelled-output", lambda t: ["discover", "-o", "jsno"], 2, r"'jsno', did you mean 'json'\?"),
    _case(
        "policy-bogus", lambda t: [*_MIGRATE, "--policy", "bogus"], 2, r"'bogus', expected one of 'none', "
    ),
    _case(
        "policy-wrong-case",
        lambda t: [*_MIGRATE, "--policy", "Restricted"],
        2,
        r"'Restricted', did you mean 'restricted'\?",
    ),
    _case(
        "feature-gate-wrong-case",
        lambda t: [*_RENDER, "--cpuset", "2-5,10-12", "--feature-gate", "GpuDeviceNuma"],
        2,
        r"--feature-gate'?: unknown 'GpuDeviceNuma', did you mean 'GPUDeviceNUMA'\?",
    ),
    _case(
        "port-out-of-range",
        lambda t: ["webhook", "--port", "70000"],
        2,
        r"'--port': 70000 is not in the range",
    ),
    _case(
        "two-host-sources",
        lambda t: ["discover", "--sysfs", _sysfs(t), "--libvirt", "test:///default"],
        2,
        r"give at most one host source, not --sysfs and --libvirt",
    ),
    _case("rule-error", lambda t: [*_RENDER, "--cpuset", "2-5"], 2, r"cpuset-size: needed 7 CPUs"),
    _case(
        "gen-certs-out-is-a-file",
        lambda t: ["webhook", "gen-certs", "--out", _write(t, "f", b"")],
        2,
        r"--out .*: is a file",
    ),
    _case(
        "output-dir-missing",
        lambda t: ["hook", "bundle", "-o", str(t / "no/dir/x")],
        2,
        r"no/dir does not exist",
    ),
    _case(
        "no-space", lambda t: ["hook", "bundle", "-o", "/dev/full"], 3, r"/dev/full: no space left on device"
    ),
]


@pytest.mark.parametrize(("make_args", "code", "line"), CASES)
def test_every_failure_is_one_line_and_a_documented_code(
    tmp_path: Path, make_args: Case, code: int, line: str
) -> None:
    result = CliRunner().invoke(cli, make_args(tmp_path), prog_name="kvnuma")
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("kvnuma: error: ")
    assert re.search(line, result.stderr), result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--debug", "discover", "--capabilities", str(tmp_path / "x")])
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.splitlines()[-1] == f"kvnuma: error: {tmp_path / 'x'}: no such file"


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        pytest.param(InputError("--cpuset", "bad list"), 2, "--cpuset: bad list", id="input-error"),
        pytest.param(RuleError("r", needed=2, available=1), 2, "r: needed 2, available 1", id="rule-error"),
        pytest.param(FileNotFoundError(errno.ENOENT, "No such file", "f"), 2, "f: no such file", id="enoent"),
        pytest.param(
            PermissionError(errno.EACCES, "Permission denied", "f"), 2, "f: permission denied", id="eacces"
        ),
        pytest.param(
            IsADirectoryError(errno.EISDIR, "Is a directory", "d"), 2, "d: is a directory", id="eisdir"
        ),
        pytest.param(
            OSError(errno.ENOSPC, "No space left on device", "o"),
            3,
            "o: no space left on device",
            id="enospc",
        ),
        pytest.param(
            OSError(errno.EIO, "Input/output error"), 3, "writing the output: input/output error", id="eio"
        ),
        pytest.param(
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
            2,
            "an input is not UTF-8 text (invalid start byte at byte 0)",
            id="decode",
        ),
        pytest.param(
            ValueError("boom"), 70, "internal error: ValueError: boom (kvnuma --debug", id="internal"
        ),
    ],
)
def test_describe(error: BaseException, code: int, line: str) -> None:
    message, exit_code = describe(error)
    assert exit_code == code
    assert message.startswith(line)
    assert "\n" not in message
    assert {EXIT_BAD_INPUT, EXIT_SYSTEM, EXIT_INTERNAL} >= {exit_code}


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        pytest.param(OSError(errno.EADDRINUSE, "Address in use"), "address already in use", id="in-use"),
        pytest.param(OSError(errno.EADDRNOTAVAIL, "x"), "not an address of this host", id="not-ours"),
        pytest.param(
            socket.gaierror(-2, "Name or service not known"),
            "unknown host (Name or service not known)",
            id="host",
        ),
    ],
)
def test_bind_problem(error: OSError, problem: str) -> None:
    assert bind_problem(error) == problem


def test_port_in_use_is_one_line_through_the_real_process(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    made = CliRunner().invoke(cli, ["webhook", "gen-certs", "--out", str(certs)])
    assert made.exit_code == 0, made.output
    (tmp_path / "cluster").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = ["webhook", "--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key")]
        where = ["--source", f"file:{tmp_path / 'cluster'}", "--host", "127.0.0.1", "--port", str(port)]
        done = subprocess.run(
            [KVNUMA, *serve, *where], capture_output=True, text=True, check=False, timeout=60
        )
    assert done.returncode == EXIT_BAD_INPUT
    assert (
        done.stderr.splitlines()[-1]
        == f"kvnuma: error: --host 127.0.0.1 --port {port}: address already in use"
    )
    assert "Traceback" not in done.stderr


_PIPE_BYTES = 4096


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["discover", "-o", "json"], id="discover-json"),
        pytest.param(["discover", "-o", "yaml"], id="discover-yaml"),
        pytest.param(["plan"], id="plan-table"),
    ],
)
def test_a_closed_pipe_ends_quietly_with_exit_0(tmp_path: Path, args: list[str]) -> None:
    """The output is several times the pipe's buffer, so the command does write into the closed
    pipe (``kvnuma ... | head -1``)."""
    render_sysfs(synthetic_host(), tmp_path / "sys")
    command = [KVNUMA, *args, "--sysfs", str(tmp_path / "sys")]
    whole = subprocess.run(command, capture_output=True, check=True, timeout=120).stdout
    assert len(whole) > 4 * _PIPE_BYTES
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    with subprocess.Popen(command, stdout=write_end, stderr=subprocess.PIPE) as process:
        os.close(write_end)
        with os.fdopen(read_end, "rb") as reader:
            first = reader.readline()
        assert process.stderr is not None
        err = process.stderr.read()
        code = process.wait(timeout=120)
    assert first == whole.splitlines(keepends=True)[0]
    assert (code, err) == (0, b"")


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        pytest.param(
            ["discover", "--capabilities", "-", "-o", "json"], CAPS, '"schemaVersion": 2', id="caps"
        ),
        pytest.param(
            ["render", "--vmi", "-", "--capabilities", str(CAPS), "--cpuset", "2-5,10-12"],
            VMI,
            "<name>numavm</name>",
            id="vmi",
        ),
        pytest.param(
            ["admit", "--review", "-", "-o", "table"],
            ROOT / "examples/reviews/large-vmi.json",
            "outcome: disabled",
            id="review",
        ),
    ],
)
def test_dash_reads_stdin(args: list[str], stdin: Path, expected: str) -> None:
    result = CliRunner().invoke(cli, args, input=stdin.read_bytes())
    assert result.exit_code == 0, result.output
    assert expected in result.stdout


def test_stdin_that_is_not_utf8_is_one_line() -> None:
    result = CliRunner().invoke(cli, ["discover", "--capabilities", "-"], input=b"<caps>\xff</caps>")
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr == "kvnuma: error: <stdin>: not UTF-8 text (invalid start byte at byte 6)\n"
