"""The bad-input table (issue 16): broken and hostile inputs of every kind, each run through the
real ``kvnuma`` entry point (the click group, in process), judged by the contract:

* ``error``: exit 2, exactly one line on stderr, ``kvnuma: error: `` naming the input and the
  problem (matched by a pattern), nothing raised but SystemExit;
* ``ok``: exit 0 and the right answer (real-kernel cases the readers must survive);
* ``warn``: exit 0 and a warning line naming the closest valid value;
* ``unchanged``: the hook returns the domain exactly as given, exit 0, one line saying why.

Every case also runs under tracemalloc (peak below 100 MiB) and a pytest timeout (no hang).
Run the whole table with ``pytest tests/badinput -q``; ``--co -q`` lists it (kind/id).
"""

from __future__ import annotations

import json
import os
import re
import socket
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kvnuma import inputs
from kvnuma.cli import cli
from support.broken_hosts import CAPS_CASES, SYSFS_CASES, deny  # noqa: F401  (deny: a fixture)
from support.hostbuilder import render_capabilities, render_sysfs, synthetic_host

ROOT = Path(__file__).resolve().parents[2]
CAPS = ROOT / "examples/engine/two-socket-smt-caps.xml"
VMI = ROOT / "examples/engine/numavm.yaml"
REVIEW = ROOT / "examples/reviews/large-vmi.json"
CLUSTER = ROOT / "examples/cluster"
MIG_VMI = ROOT / "examples/migration/vmi-small.yaml"
NODE_A = ROOT / "examples/migration/node-a-capabilities.xml"
GPU_DOMAIN = (ROOT / "tests/fixtures/domains/kubevirt-gpu-2cell.xml").read_text()
MiB = 1 << 20


@dataclass(frozen=True)
class Case:
    kind: str
    id: str
    argv: Callable[[Path], list[str]]
    expect: str  # error | ok | warn | unchanged
    pattern: str
    stdin: bytes | None = None
    check: Callable[[str], bool] | None = None


def _file(t: Path, name: str, data: bytes | str) -> str:
    path = t / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def _fifo(t: Path, name: str) -> str:
    path = t / name
    os.mkfifo(path)
    return str(path)


def _discovers(id: str, check: Callable[[str], bool], **tree: Any) -> Case:
    """A real-kernel shape ``kvnuma discover`` must read: exit 0 and ``check`` holds on its JSON."""
    return Case(
        "sysfs-real",
        id,
        lambda t: ["discover", "--sysfs", _tree(t, **tree), "-o", "json"],
        "ok",
        "",
        check=check,
    )


def _tree(t: Path, **options: Any) -> str:
    host = synthetic_host(
        cells=options.pop("cells", 2),
        sockets=options.pop("sockets", 2),
        cores_per_cell=2,
        threads=2,
        memory_per_cell=4 << 30,
        **{k: options.pop(k) for k in ("cell_ids", "offline", "memory_only_cells") if k in options},
    )
    render_sysfs(host, t / "sys", **options)
    return str(t / "sys")


def _broken_tree(mutate: Callable[[Path], object]) -> Callable[[Path], list[str]]:
    def argv(t: Path) -> list[str]:
        root = Path(_tree(t))
        mutate(root)
        return ["discover", "--sysfs", str(root), "-o", "json"]

    return argv


def _pci_numa_node(text: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / "bus/pci/devices/0000:00:03.0").mkdir(parents=True)
        (root / "bus/pci/devices/0000:00:03.0/numa_node").write_text(text)

    return mutate


def _caps(mutate: Callable[[str], str]) -> Callable[[Path], list[str]]:
    def argv(t: Path) -> list[str]:
        text = render_capabilities(
            synthetic_host(cells=2, cores_per_cell=2, threads=2, memory_per_cell=4 << 30)
        )
        return ["discover", "--capabilities", _file(t, "caps.xml", mutate(text))]

    return argv


def _vmi_doc(**spec_cpu: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(VMI.read_text())
    doc["spec"]["domain"]["cpu"].update(spec_cpu)
    return doc


def _render(vmi: Callable[[Path], str], *extra: str) -> Callable[[Path], list[str]]:
    return lambda t: ["render", "--vmi", vmi(t), "--capabilities", str(CAPS), "--cpuset", "2-5,10-12", *extra]


def _vmi_file(data: bytes | str | dict[str, Any]) -> Callable[[Path], str]:
    def make(t: Path) -> str:
        body = json.dumps(data) if isinstance(data, dict) else data
        return _file(t, "vmi.yaml", body)

    return make


def _admit(review: Callable[[Path], str]) -> Callable[[Path], list[str]]:
    return lambda t: ["admit", "--review", review(t), "--source", f"file:{CLUSTER}"]


def _review(data: bytes | str) -> Callable[[Path], str]:
    return lambda t: _file(t, "review.json", data)


def _big_review() -> bytes:
    review = json.loads(REVIEW.read_text())
    review["request"]["object"]["metadata"]["annotations"] = {f"k{i}": "v" * 100 for i in range(90_000)}
    return json.dumps(review).encode()


def _hook(domain: str) -> Callable[[Path], list[str]]:
    return lambda t: ["hook", "onDefineDomain", "--vmi", "{}", "--domain", domain]


def _busy_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    _KEEP.append(sock)
    return str(sock.getsockname()[1])


_KEEP: list[socket.socket] = []

_DEEP_XML = "<domain>" + "<a>" * 5000 + "</a>" * 5000 + "</domain>"
_MANY_XML = "<domain>" + "<x/>" * 150_000 + "</domain>"
_BOMB_XML = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    "<domain>&lol2;</domain>"
)
_XXE_XML = '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><domain>&x;</domain>'
_EXT_DTD = '<!DOCTYPE domain SYSTEM "http://example.com/d.dtd"><domain/>'


def _cells_domain(attribute: str) -> str:
    return GPU_DOMAIN.replace("<vcpupin vcpu='0' cpuset='", f"<vcpupin vcpu='0' {attribute} x='", 1)


CASES: list[Case] = []

# --- broken sysfs trees (discover --sysfs): all or error -----------------------------------
for name, mutate, named, fragment in SYSFS_CASES:
    CASES.append(
        Case(
            "sysfs", name, _broken_tree(mutate), "error", re.escape(f"{named}: ") + ".*" + re.escape(fragment)
        )
    )
CASES += [
    Case(
        "sysfs",
        "root-missing",
        lambda t: ["discover", "--sysfs", str(t / "none")],
        "error",
        r"none: no such folder",
    ),
    Case(
        "sysfs",
        "root-is-a-file",
        lambda t: ["discover", "--sysfs", _file(t, "f", "x")],
        "error",
        r"f: not a folder",
    ),
    Case("sysfs", "empty-root", lambda t: ["discover", "--sysfs", str(t)], "error", r"not a sysfs tree"),
    Case(
        "sysfs",
        "core-id-word",
        _broken_tree(lambda r: (r / "devices/system/cpu/cpu0/topology/core_id").write_text("x")),
        "error",
        r"core_id: expected an integer id or -1",
    ),
    Case(
        "sysfs",
        "meminfo-binary",
        _broken_tree(lambda r: (r / "devices/system/node/node0/meminfo").write_bytes(b"\xff\x00")),
        "error",
        r"meminfo: not text",
    ),
    Case(
        "sysfs",
        "meminfo-huge-file",
        _broken_tree(lambda r: (r / "devices/system/node/node0/meminfo").write_bytes(b"0" * (2 * MiB))),
        "error",
        r"meminfo: larger than the limit",
    ),
    Case(
        "sysfs",
        "pci-numa-node-negative",
        _broken_tree(_pci_numa_node("-7")),
        "error",
        r"numa_node: expected an integer id or -1",
    ),
    # real-kernel cases: the right topology
    Case(
        "sysfs-real",
        "no-node-folder",
        lambda t: ["discover", "--sysfs", str(Path(_t1(t))), "-o", "json"],
        "ok",
        "",
        check=lambda out: len(json.loads(out)["cells"]) == 1,
    ),
    _discovers(
        "nul-padded",
        lambda out: len(json.loads(out)["cells"]) == 2,
        nul_padding=True,
    ),
    _discovers(
        "minus-one-ids",
        lambda out: len(json.loads(out)["cells"]) == 2,
        minus_one_ids=True,
    ),
    _discovers(
        "sparse-node-ids",
        lambda out: [c["id"] for c in json.loads(out)["cells"]] == [0, 1, 16, 17],
        cells=4,
        cell_ids=(0, 1, 16, 17),
    ),
    _discovers(
        "offline-cpus",
        lambda out: sum(not c["online"] for cell in json.loads(out)["cells"] for c in cell["cpus"]) == 1,
        offline=(3,),
    ),
    _discovers(
        "memory-only-node",
        lambda out: json.loads(out)["cells"][-1]["cpus"] == [],
        memory_only_cells=1,
    ),
    _discovers(
        "range-free-sibling-lists",
        lambda out: len(json.loads(out)["cells"]) == 2,
        range_siblings=False,
    ),
]


def _t1(t: Path) -> str:
    host = synthetic_host(cells=1, sockets=1, cores_per_cell=2, threads=2, memory_per_cell=4 << 30)
    host = type(host)(cells=tuple(type(c)(c.id, c.cpus, c.memory_bytes, c.hugepages, ()) for c in host.cells))
    render_sysfs(host, t / "sys", no_node_dir=True)
    return str(t / "sys")


# --- capabilities XML (discover --capabilities) ----------------------------------------------
for name, mutate, fragment in CAPS_CASES:
    CASES.append(Case("capabilities", name, _caps(mutate), "error", re.escape(fragment)))
CASES += [
    Case(
        "capabilities",
        "missing",
        lambda t: ["discover", "--capabilities", str(t / "x.xml")],
        "error",
        r"x\.xml: no such file",
    ),
    Case(
        "capabilities",
        "a-folder",
        lambda t: ["discover", "--capabilities", str(t)],
        "error",
        r"is a directory",
    ),
    Case(
        "capabilities",
        "fifo-no-writer",
        lambda t: ["discover", "--capabilities", _fifo(t, "caps.xml")],
        "error",
        r"caps\.xml: a FIFO or device: no writer",
    ),
    Case(
        "capabilities",
        "not-utf8",
        lambda t: ["discover", "--capabilities", _file(t, "c.xml", b"<capabilities>\xff</capabilities>")],
        "error",
        r"not UTF-8",
    ),
    Case(
        "capabilities",
        "truncated",
        lambda t: ["discover", "--capabilities", _file(t, "c.xml", "<capabilities><host>")],
        "error",
        r"malformed XML",
    ),
    Case(
        "capabilities",
        "billion-laughs",
        lambda t: [
            "discover",
            "--capabilities",
            _file(t, "c.xml", _BOMB_XML.replace("domain", "capabilities")),
        ],
        "error",
        r"DOCTYPE declaration .* is refused",
    ),
    Case(
        "capabilities",
        "xxe",
        lambda t: [
            "discover",
            "--capabilities",
            _file(t, "c.xml", _XXE_XML.replace("domain", "capabilities")),
        ],
        "error",
        r"is refused",
    ),
    Case(
        "capabilities",
        "external-dtd",
        lambda t: [
            "discover",
            "--capabilities",
            _file(t, "c.xml", _EXT_DTD.replace("domain", "capabilities")),
        ],
        "error",
        r"is refused",
    ),
    Case(
        "capabilities",
        "deep",
        lambda t: [
            "discover",
            "--capabilities",
            _file(t, "c.xml", _DEEP_XML.replace("domain", "capabilities")),
        ],
        "error",
        r"nested deeper than 200",
    ),
    Case(
        "capabilities",
        "300k-cells",
        lambda t: [
            "discover",
            "--capabilities",
            _file(
                t,
                "c.xml",
                "<capabilities><host><topology><cells>"
                + "<cell id='1'/>" * 300_000
                + "</cells></topology></host></capabilities>",
            ),
        ],
        "error",
        r"more than 100000 elements",
    ),
    Case(
        "capabilities",
        "wrong-root",
        lambda t: ["discover", "--capabilities", _file(t, "c.xml", "<domain/>")],
        "error",
        r"expected a <capabilities> document",
    ),
    Case(
        "capabilities",
        "no-cells",
        lambda t: ["discover", "--capabilities", _file(t, "c.xml", "<capabilities><host/></capabilities>")],
        "error",
        r"no <host><topology><cells>",
    ),
    Case(
        "capabilities",
        "cell-id-huge",
        _caps(lambda x: x.replace('<cell id="1">', '<cell id="99999999999999999999999">', 1)),
        "error",
        r"too long",
    ),
    Case(
        "capabilities",
        "siblings-garbage",
        _caps(lambda x: x.replace('siblings="0,4"', 'siblings="0-x"', 1)),
        "error",
        r"malformed cpu list item",
    ),
]

# --- VMIs (render) -------------------------------------------------------------------------
_deep_vmi = "a: " + "[" * 5000
CASES += [
    Case(
        "vmi",
        "deep-json",
        _render(_vmi_file('{"a":' * 50_000)),
        "error",
        r"vmi\.yaml: (JSON nested too deeply|malformed)",
    ),
    Case("vmi", "deep-yaml", _render(_vmi_file(_deep_vmi)), "error", r"vmi\.yaml: malformed YAML/JSON"),
    Case(
        "vmi",
        "deep-but-parsable",
        _render(_vmi_file("a: " + "[" * 150 + "]" * 150)),
        "error",
        r"nested deeper than 100",
    ),
    Case(
        "vmi",
        "alias-bomb",
        _render(
            _vmi_file(
                "a: &a [x,x,x,x,x,x,x,x,x]\n"
                + "".join(
                    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n"
                    for i in range(8)
                )
            )
        ),
        "error",
        r"more than 1000000 values",
    ),
    Case(
        "vmi",
        "python-object",
        _render(_vmi_file("!!python/object/apply:os.system ['true']\n")),
        "error",
        r"malformed YAML",
    ),
    Case("vmi", "a-list", _render(_vmi_file("- 1\n- 2\n")), "error", r"is a list, expected an object"),
    Case("vmi", "binary", _render(_vmi_file(b"\x89PNG\x00\xff")), "error", r"not UTF-8"),
    Case(
        "vmi",
        "big-yaml",
        _render(_vmi_file("a:\n" + "  - xxxxxxxx\n" * 300_000)),
        "error",
        r"YAML input larger than 2 MiB",
    ),
    Case(
        "vmi",
        "fifo-no-writer",
        _render(lambda t: _fifo(t, "vmi.yaml")),
        "error",
        r"vmi\.yaml: a FIFO or device: no writer",
    ),
    Case(
        "vmi",
        "endless-device",
        _render(lambda t: "/dev/zero"),
        "error",
        r"/dev/zero: input is larger than 16 MiB",
    ),
    Case(
        "vmi",
        "endless-pipe",
        _render(lambda t: "-"),
        "error",
        r"<stdin>: input is larger than 16 MiB",
        stdin=b"x" * (17 * MiB),
    ),
    Case("vmi", "missing", _render(lambda t: str(t / "none.yaml")), "error", r"none\.yaml: no such file"),
    Case(
        "vmi", "cores-word", _render(_vmi_file(_vmi_doc(cores="lots"))), "error", r"spec\.domain\.cpu\.cores"
    ),
    Case(
        "vmi", "cores-negative", _render(_vmi_file(_vmi_doc(cores=-3))), "error", r"spec\.domain\.cpu\.cores"
    ),
    Case(
        "vmi", "cores-huge", _render(_vmi_file(_vmi_doc(cores=10**30))), "error", r"spec\.domain\.cpu\.cores"
    ),
    Case(
        "vmi",
        "realtime-mask-5M",
        _render(_vmi_file(_vmi_doc(realtime={"mask": "0-5000000"}))),
        "error",
        r"realtime\.mask: .*limit 16383",
    ),
    Case(
        "vmi",
        "realtime-mask-garbage",
        _render(_vmi_file(_vmi_doc(realtime={"mask": "0-x"}))),
        "error",
        r"realtime\.mask: invalid mask value",
    ),
    Case(
        "vmi",
        "stdin-dash-works",
        _render(lambda t: "-"),
        "ok",
        "",
        stdin=VMI.read_bytes(),
        check=lambda out: "<vcpupin" in out,
    ),
]

# --- arguments -------------------------------------------------------------------------------
CASES += [
    Case(
        "arguments",
        "cpuset-5M",
        lambda t: ["render", "--vmi", str(VMI), "--capabilities", str(CAPS), "--cpuset", "0-5000000"],
        "error",
        r"--cpuset: id 5000000 .*limit 16383",
    ),
    Case(
        "arguments",
        "cpuset-garbage",
        lambda t: ["render", "--vmi", str(VMI), "--capabilities", str(CAPS), "--cpuset", "2-x"],
        "error",
        r"--cpuset: malformed cpu list item",
    ),
    Case(
        "arguments",
        "cpuset-exclusion",
        lambda t: ["render", "--vmi", str(VMI), "--capabilities", str(CAPS), "--cpuset", "^1"],
        "error",
        r"--cpuset: malformed cpu list item",
    ),
    Case(
        "arguments",
        "cpuset-backwards",
        lambda t: ["render", "--vmi", str(VMI), "--capabilities", str(CAPS), "--cpuset", "5-2"],
        "error",
        r"ends before it starts",
    ),
    Case(
        "arguments",
        "pci-sysfs-missing",
        lambda t: [
            "render",
            "--vmi",
            str(VMI),
            "--capabilities",
            str(CAPS),
            "--cpuset",
            "2-5,10-12",
            "--feature-gate",
            "GPUDeviceNUMA",
            "--pci-sysfs",
            str(t / "none"),
        ],
        "error",
        r"none",
    ),
    Case(
        "arguments",
        "hook-bundle-missing-folder",
        lambda t: ["hook", "bundle", "-o", str(t / "no/dir/hook")],
        "error",
        r"no/dir does not exist",
    ),
    Case(
        "arguments",
        "gen-certs-out-is-a-file",
        lambda t: ["webhook", "gen-certs", "--out", _file(t, "f", "")],
        "error",
        r"is a file",
    ),
    Case(
        "arguments",
        "agent-server-not-a-url",
        lambda t: ["agent", "--node-name", "n", "--server", "not a url", "--sysfs", _tree(t)],
        "error",
        r"--server: 'not a url' is not an API server URL",
    ),
    Case(
        "arguments",
        "agent-no-node-name",
        lambda t: ["agent", "--node-name", "", "--once"],
        "error",
        r"--node-name",
    ),
    Case(
        "arguments",
        "agent-listen-99999",
        lambda t: [
            "agent",
            "--node-name",
            "n",
            "--server",
            "http://127.0.0.1:1",
            "--listen",
            "127.0.0.1:99999",
        ],
        "error",
        r"--listen",
    ),
    Case(
        "arguments",
        "agent-dry-run-broken-host",
        lambda t: ["agent", "--node-name", "n", "--dry-run", "--sysfs", str(t / "none")],
        "error",
        r"none: no such folder",
    ),
    Case(
        "arguments",
        "agent-rt-binary",
        lambda t: [
            "agent",
            "--node-name",
            "n",
            "--dry-run",
            "--sysfs",
            _tree(t),
            "--proc",
            str(_proc(t, b"\xff\xfe")),
        ],
        "error",
        r"sched_rt_runtime_us: not text",
    ),
    Case(
        "arguments",
        "agent-kubeconfig-binary",
        lambda t: [
            "agent",
            "--node-name",
            "n",
            "--once",
            "--sysfs",
            _tree(t),
            "--kubeconfig",
            _file(t, "kc", b"\x89\xff\x00"),
        ],
        "error",
        r"kc: kubeconfig is not UTF-8",
    ),
    Case(
        "arguments",
        "webhook-port-70000",
        lambda t: ["webhook", "--port", "70000"],
        "error",
        r"70000 is not in the range",
    ),
    Case(
        "arguments",
        "migrate-policy-bogus",
        lambda t: [
            "migrate-check",
            "--vmi",
            str(MIG_VMI),
            "--source-node",
            str(NODE_A),
            "--target-node",
            str(NODE_A),
            "--policy",
            "bogus",
        ],
        "error",
        r"policy",
    ),
    Case(
        "arguments",
        "webhook-source-bogus",
        lambda t: ["admit", "--review", str(REVIEW), "--source", "nowhere"],
        "error",
        r"--source: expected 'kube' or 'file:DIR'",
    ),
    Case(
        "arguments",
        "cluster-folder-missing",
        lambda t: ["admit", "--review", str(REVIEW), "--source", f"file:{t / 'none'}"],
        "error",
        r"none",
    ),
    Case(
        "arguments",
        "kubevirt-cr-wrong-case-gate",
        lambda t: [
            "render",
            "--vmi",
            str(VMI),
            "--capabilities",
            str(CAPS),
            "--cpuset",
            "2-5,10-12",
            "--kubevirt",
            _file(
                t,
                "kv.yaml",
                "kind: KubeVirt\nspec: {configuration: {developerConfiguration: "
                "{featureGates: [GpuDeviceNuma]}}}\n",
            ),
        ],
        "warn",
        r"feature gate 'GpuDeviceNuma' .*did you mean 'GPUDeviceNUMA'",
    ),
]


def _proc(t: Path, data: bytes) -> Path:
    path = t / "proc/sys/kernel/sched_rt_runtime_us"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return t / "proc"


# --- AdmissionReviews (admit) ------------------------------------------------------------------
CASES += [
    Case("review", "malformed-json", _admit(_review("{nope")), "error", r"review\.json: malformed YAML/JSON"),
    Case("review", "deep-json", _admit(_review("[" * 100_000)), "error", r"JSON nested too deeply"),
    Case("review", "a-list", _admit(_review("[1, 2]")), "error", r"is a list, expected an object"),
    Case("review", "binary", _admit(_review(b"\xff\xfe{}")), "error", r"not UTF-8"),
    Case(
        "review",
        "fifo-no-writer",
        _admit(lambda t: _fifo(t, "review.json")),
        "error",
        r"review\.json: a FIFO or device: no writer",
    ),
    Case("review", "17-MiB", _admit(_review(b" " * (17 * MiB))), "error", r"larger than 16 MiB"),
    Case(
        "review",
        "10-MB-json-answered",
        _admit(_review(_big_review())),
        "ok",
        "",
        check=lambda out: json.loads(out)["response"]["allowed"] is True,
    ),
    Case(
        "review",
        "no-request",
        _admit(_review('{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}')),
        "error",
        r"request",
    ),
    Case(
        "review",
        "stdin-dash-works",
        _admit(lambda t: "-"),
        "ok",
        "",
        stdin=REVIEW.read_bytes(),
        check=lambda out: "patch" in json.loads(out)["response"],
    ),
]

# --- migrate-check targets -------------------------------------------------------------------
CASES += [
    Case(
        "migration",
        "target-fifo-no-writer",
        lambda t: [
            "migrate-check",
            "--vmi",
            str(MIG_VMI),
            "--source-node",
            str(NODE_A),
            "--target-node",
            _fifo(t, "b.xml"),
        ],
        "error",
        r"b\.xml: a FIFO or device: no writer",
    ),
    Case(
        "migration",
        "target-one-cpu-in-two-cells",
        lambda t: [
            "migrate-check",
            "--vmi",
            str(MIG_VMI),
            "--source-node",
            str(NODE_A),
            "--target-node",
            _file(
                t,
                "b.xml",
                NODE_A.read_text()
                .replace("<cpu id='1'", "<cpu id='0'", 1)
                .replace('<cpu id="1"', '<cpu id="0"', 1),
            ),
        ],
        "error",
        r"also in cell|CPU 0",
    ),
]

# --- domain XML through the hook: the domain comes back unchanged ------------------------------
CASES += [
    Case(
        "domain",
        "malformed",
        _hook("<domain><devices></domain>"),
        "unchanged",
        r"malformed XML: mismatched tag",
    ),
    Case("domain", "billion-laughs", _hook(_BOMB_XML), "unchanged", r"DOCTYPE declaration .* is refused"),
    Case("domain", "xxe", _hook(_XXE_XML), "unchanged", r"is refused"),
    Case("domain", "external-dtd", _hook(_EXT_DTD), "unchanged", r"is refused"),
    Case("domain", "deep", _hook(_DEEP_XML), "unchanged", r"nested deeper than 200"),
    Case("domain", "150k-elements", _hook(_MANY_XML), "unchanged", r"more than 100000 elements"),
    Case(
        "domain",
        "not-utf8",
        _hook("<domain>\udcff\udcfe</domain>"),
        "unchanged",
        r"not well-formed \(invalid token\)",
    ),
    Case(
        "domain",
        "vcpupin-cpuset-5M",
        _hook(GPU_DOMAIN.replace('cpuset="', 'cpuset="0-5000000,', 1)),
        "unchanged",
        r"limit 16383",
    ),
    Case(
        "domain",
        "cell-cpus-5M",
        _hook(GPU_DOMAIN.replace('cpus="', 'cpus="0-5000000,', 1)),
        "unchanged",
        r"limit 16383",
    ),
    Case(
        "domain",
        "memnode-nodeset-5M",
        _hook(
            GPU_DOMAIN.replace(
                'cellid="0" mode="strict" nodeset="', 'cellid="0" mode="strict" nodeset="0-5000000,', 1
            )
        ),
        "unchanged",
        r"limit 16383",
    ),
    Case("domain", "wrong-root", _hook("<capabilities/>"), "unchanged", r"expected a <domain> document"),
    Case(
        "domain",
        "vmi-not-json",
        lambda t: ["hook", "onDefineDomain", "--vmi", "{nope", "--domain", "<domain/>"],
        "unchanged",
        r"--vmi: not valid JSON",
    ),
    Case(
        "domain",
        "vmi-deep",
        lambda t: ["hook", "onDefineDomain", "--vmi", "[" * 100_000, "--domain", "<domain/>"],
        "unchanged",
        r"nested too deeply",
    ),
    Case(
        "domain",
        "unknown-argument",
        lambda t: ["hook", "onDefineDomain", "--vmi", "{}", "--bogus", "--domain", "<domain/>"],
        "unchanged",
        r"unknown argument",
    ),
    Case(
        "domain",
        "sysfs-fifo",
        lambda t: [
            "hook",
            "onDefineDomain",
            "--vmi",
            "{}",
            "--domain",
            GPU_DOMAIN,
            "--sysfs",
            _hook_sysfs_fifo(t),
        ],
        "unchanged",
        r"a FIFO where a file was expected",
    ),
]


def _hook_sysfs_fifo(t: Path) -> str:
    root = Path(_tree(t))
    device = root / "bus/pci/devices/0000:3b:00.0"
    device.mkdir(parents=True)
    os.mkfifo(device / "numa_node")
    return str(root)


pytestmark = pytest.mark.usefixtures("deny")  # EACCES for the cases that chmod 0


@pytest.fixture(autouse=True)
def _bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "FIFO_WAIT_SECONDS", 0.5)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}/{c.id}" for c in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    argv = case.argv(tmp_path)
    tracemalloc.start()
    try:
        result = CliRunner().invoke(cli, argv, input=case.stdin, prog_name="kvnuma")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    assert peak < 100 * MiB, peak
    if case.expect == "error":
        assert result.exit_code == 2, (result.exit_code, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("kvnuma: error: ")
        assert re.search(case.pattern, result.stderr), result.stderr
        assert result.stdout == ""
    elif case.expect == "ok":
        assert result.exit_code == 0, result.stderr
        assert case.check is not None
        assert case.check(result.stdout)
    elif case.expect == "warn":
        assert result.exit_code == 0, result.stderr
        assert re.search(case.pattern, result.stderr), result.stderr
    else:
        domain = argv[argv.index("--domain") + 1]
        assert result.exit_code == 0, result.stderr
        assert result.stdout_bytes == domain.encode("utf-8", "surrogateescape")
        lines = result.stderr.splitlines()
        assert len(lines) == 1, lines
        assert re.search(case.pattern, lines[0]), lines[0]
        assert lines[0].endswith("domain left unchanged")
