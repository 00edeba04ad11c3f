"""The fuzz lane (``pytest -m fuzz``; part of every CI run): random and mutated sysfs trees,
capabilities XML, VMIs, AdmissionReviews and domain XML thrown at each entry point. The contract:
a correct answer (a topology that passes the checks, an admission response, the domain placed or
returned unchanged) or one InputError / one-line error; nothing else raised, never a traceback.
Examples are bounded (``max_examples``) so the lane takes about a minute; failing examples it
finds are kept as cases in tests/badinput/test_bad_input_table.py."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvnuma.cli import cli
from kvnuma.errors import InputError
from kvnuma.hook.main import on_define_domain
from kvnuma.model import HostTopology
from kvnuma.topology.capabilities import parse_capabilities
from kvnuma.topology.checks import check_host
from kvnuma.topology.sysfs import read_sysfs
from support.hostbuilder import render_capabilities, render_sysfs, synthetic_host

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
HOST = synthetic_host(cells=2, cores_per_cell=2, threads=2, memory_per_cell=4 << 30)
GOOD_TREE = Path(tempfile.mkdtemp(prefix="kvnuma-fuzz-tree-"))
atexit.register(shutil.rmtree, GOOD_TREE, True)
render_sysfs(HOST, GOOD_TREE)
FILES = sorted(str(p.relative_to(GOOD_TREE)) for p in GOOD_TREE.rglob("*") if p.is_file())
CAPS = render_capabilities(HOST)
DOMAIN = (ROOT / "tests/fixtures/domains/kubevirt-gpu-2cell.xml").read_text()
VMI = (ROOT / "examples/engine/numavm.yaml").read_text()
REVIEW = json.loads((ROOT / "examples/reviews/large-vmi.json").read_text())

_text = st.one_of(
    st.text(alphabet="0123456789-,^ \n\x00abc:kBNodeMemTotal", max_size=40),
    st.integers(-(10**25), 10**25).map(str),
    st.binary(max_size=20).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["", "-1", "0-999999", "0-16383", "10 21", "21 10", "0 0", "Node 0 MemTotal: 1 kB"]),
)


def _is_valid(host: HostTopology) -> bool:
    check_host(host, lambda what, cell, cpu: f"{what} {cell} {cpu}")  # raises if not
    return True


def _one_line(error: InputError) -> bool:
    return "\n" not in error.one_line() and bool(error.source) and bool(error.problem)


@FUZZ
@given(
    mutations=st.lists(st.tuples(st.sampled_from(FILES), st.one_of(st.none(), _text)), min_size=1, max_size=4)
)
def test_mutated_sysfs_trees(mutations: list[tuple[str, str | None]]) -> None:
    root = Path(tempfile.mkdtemp(prefix="kvnuma-fuzz-"))
    try:
        tree = root / "sys"
        shutil.copytree(GOOD_TREE, tree, symlinks=True)
        for relpath, content in mutations:
            target = tree / relpath
            if content is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(content.encode("utf-8", "surrogateescape"))
        try:
            host = read_sysfs(tree)
        except InputError as error:
            assert _one_line(error)
        else:
            assert _is_valid(host)
    finally:
        shutil.rmtree(root)


_ATTRIBUTES = ["id", "socket_id", "core_id", "siblings", "value", "size", "unit", "num"]


@FUZZ
@given(
    edits=st.lists(st.tuples(st.sampled_from(_ATTRIBUTES), st.integers(0, 40), _text), max_size=4),
    cut=st.one_of(st.none(), st.integers(0, len(CAPS))),
)
def test_mutated_capabilities(edits: list[tuple[str, int, str]], cut: int | None) -> None:
    text = CAPS
    for attribute, nth, value in edits:
        marker = f'{attribute}="'
        start = -1
        for _ in range(nth + 1):
            start = text.find(marker, start + 1)
            if start < 0:
                break
        if start >= 0:
            end = text.index('"', start + len(marker))
            safe = value.replace("&", "").replace("<", "").replace('"', "")
            text = text[: start + len(marker)] + safe + text[end:]
    if cut is not None:
        text = text[:cut]
    try:
        host = parse_capabilities(text, source="caps.xml")
    except InputError as error:
        assert _one_line(error)
    else:
        assert _is_valid(host)


_json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.text(max_size=12)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_VMI_PATHS = [
    ("spec", "domain", "cpu", "cores"),
    ("spec", "domain", "cpu", "threads"),
    ("spec", "domain", "cpu", "sockets"),
    ("spec", "domain", "cpu", "realtime"),
    ("spec", "domain", "cpu", "numa"),
    ("spec", "domain", "memory", "guest"),
    ("spec", "domain", "memory", "hugepages"),
    ("spec", "domain", "resources"),
    ("spec", "domain"),
    ("metadata",),
]


def _set(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = doc
    for key in path[:-1]:
        if not isinstance(node, dict):
            return
        node = node.setdefault(key, {})
    if isinstance(node, dict):
        node[path[-1]] = value


def _cli(argv: list[str], stdin: str | bytes) -> None:
    result = CliRunner().invoke(cli, argv, input=stdin, prog_name="kvnuma")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr)
    if result.exit_code == 2:  # one error line (after any unknown-field warnings, one line each)
        lines = [line for line in result.stderr.splitlines() if not line.startswith("kvnuma: warning: ")]
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("kvnuma: error: ")


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(_VMI_PATHS), _json_values), max_size=3))
def test_mutated_vmis_through_render(edits: list[tuple[tuple[str, ...], Any]]) -> None:
    import yaml

    doc = yaml.safe_load(VMI)
    for path, value in edits:
        _set(doc, path, value)
    caps = str(ROOT / "examples/engine/two-socket-smt-caps.xml")
    _cli(["render", "--vmi", "-", "--capabilities", caps, "--cpuset", "2-5,10-12"], json.dumps(doc))


_REVIEW_PATHS = [
    ("request",),
    ("request", "uid"),
    ("request", "object"),
    ("request", "object", "spec"),
    ("request", "object", "spec", "domain", "cpu"),
    ("request", "object", "spec", "domain", "memory", "guest"),
    ("request", "kind"),
    ("apiVersion",),
]


@FUZZ
@given(
    edits=st.lists(st.tuples(st.sampled_from(_REVIEW_PATHS), _json_values), max_size=3),
    garbage=st.one_of(st.none(), st.binary(max_size=30)),
)
def test_mutated_reviews_through_admit(
    edits: list[tuple[tuple[str, ...], Any]], garbage: bytes | None
) -> None:
    review = json.loads(json.dumps(REVIEW))
    for path, value in edits:
        _set(review, path, value)
    body = json.dumps(review).encode() if garbage is None else garbage
    _cli(["admit", "--review", "-", "--source", f"file:{ROOT / 'examples/cluster'}"], body)


@FUZZ
@given(
    start=st.integers(0, len(DOMAIN)),
    length=st.integers(0, 40),
    insert=st.one_of(
        _text, st.sampled_from(["<a>", "</devices>", "&lol;", "<!DOCTYPE x>", "0-5000000", "\udcff"])
    ),
    vmi=st.one_of(st.just("{}"), _json_values.map(json.dumps), st.text(max_size=20)),
)
def test_mutated_domains_through_the_hook(start: int, length: int, insert: str, vmi: str) -> None:
    domain = DOMAIN[:start] + insert + DOMAIN[start + length :]
    outcome = on_define_domain(vmi, domain, sysfs_root=str(GOOD_TREE))
    assert outcome.exit_code == 0
    assert len(outcome.stderr) >= 1
    assert all("\n" not in line for line in outcome.stderr)
    if outcome.stdout != domain:  # placed: still a domain
        assert outcome.stdout.lstrip().startswith(("<domain", "<?xml", "<!--"))
