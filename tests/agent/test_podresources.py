"""kvnuma.agent.podresources against a fake kubelet built from the kubelet's own api.proto.

The fake (tests/support/fake_kubelet.py) encodes with the protobuf library from protoc's
generated classes; kvnuma decodes with its own small wire decoder. Table rows go through a real
gRPC server on a unix socket; the Hypothesis property feeds random messages straight to the
decoder; the bad-input rows cover every failure the reader names.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvnuma.agent.podresources import (
    MAX_CPU_ID_ENTRIES,
    MAX_MEMORY_BLOCKS,
    MAX_PODS,
    MAX_RESPONSE_BYTES,
    decode_responses,
    read_kubelet_resources,
)
from kvnuma.cpulist import MAX_CPU_ID
from kvnuma.errors import InputError
from kvnuma.model.cpuset import CpuSet
from kvnuma.model.kubelet import KubeletResources, MemoryBlock
from support.fake_kubelet import HANG, FakeKubelet, Generated, compile_podresources, serve_generated

GiB = 1 << 30
MiB = 1 << 20
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return compile_podresources(tmp_path_factory.mktemp("podresources-pb"))


@pytest.fixture
def sockdir() -> Iterator[Path]:
    # Short: a unix socket path must fit in 108 bytes, pytest's tmp_path may not.
    with tempfile.TemporaryDirectory(prefix="kpr", dir="/tmp") as name:
        yield Path(name)


def _alloc(gen: Generated, doc: dict[str, Any]) -> Any:
    return json_format.ParseDict(doc, gen.pb.AllocatableResourcesResponse())


def _list(gen: Generated, doc: dict[str, Any]) -> Any:
    return json_format.ParseDict(doc, gen.pb.ListPodResourcesResponse())


def _mem(kind: str, size: int, *nodes: int) -> dict[str, Any]:
    return {"memory_type": kind, "size": size, "topology": {"nodes": [{"ID": n} for n in nodes]}}


def _block(kind: str, size: int, *nodes: int) -> MemoryBlock:
    return MemoryBlock(resource=kind, size=size, nodes=tuple(nodes))


def _pod(name: str, *containers: dict[str, Any], **pod_level: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "containers": list(containers), **pod_level}


DEVICE = {
    "resource_name": "intel.com/sriov",
    "device_ids": ["0000:3b:02.0"],
    "topology": {"nodes": [{"ID": 1}]},
}

ROWS: list[tuple[str, dict[str, Any], dict[str, Any], KubeletResources]] = [
    (
        "no-pods",
        {"cpu_ids": [2, 3, 4, 5, 6, 7]},
        {},
        KubeletResources(CpuSet.parse("2-7"), (), CpuSet(), ()),
    ),
    (
        "pods-with-exclusive-cpus",
        {"cpu_ids": list(range(2, 16))},
        {
            "pod_resources": [
                _pod("virt-launcher-a", {"name": "compute", "cpu_ids": [2, 3, 4, 5]}, {"name": "sidecar"}),
                _pod("virt-launcher-b", {"name": "compute", "cpu_ids": [10, 11]}),
                _pod("shared", {"name": "nginx"}),
            ]
        },
        KubeletResources(CpuSet.parse("2-15"), (), CpuSet.parse("2-5,10-11"), ()),
    ),
    (
        "memory-blocks-on-one-node",
        {"cpu_ids": [1, 2, 3], "memory": [_mem("memory", 30 * GiB, 0), _mem("memory", 31 * GiB, 1)]},
        {
            "pod_resources": [
                _pod("vm", {"name": "compute", "cpu_ids": [1], "memory": [_mem("memory", 2 * GiB, 0)]})
            ]
        },
        KubeletResources(
            CpuSet.parse("1-3"),
            (_block("memory", 30 * GiB, 0), _block("memory", 31 * GiB, 1)),
            CpuSet.of([1]),
            (_block("memory", 2 * GiB, 0),),
        ),
    ),
    (
        "memory-blocks-on-several-nodes-summed",
        {"memory": [_mem("memory", 8 * GiB, 1, 0)]},
        {
            "pod_resources": [
                _pod("big", {"name": "c1", "memory": [_mem("memory", 3 * GiB, 1, 0)]}),
                _pod("big2", {"name": "c1", "memory": [_mem("memory", GiB, 0, 1)]}),
                _pod("small", {"name": "c1", "memory": [_mem("memory", GiB, 1)]}),
            ]
        },
        KubeletResources(
            CpuSet(),
            (_block("memory", 8 * GiB, 0, 1),),
            CpuSet(),
            (_block("memory", 4 * GiB, 0, 1), _block("memory", GiB, 1)),
        ),
    ),
    (
        "hugepages",
        {
            "memory": [
                _mem("hugepages-1Gi", 4 * GiB, 0),
                _mem("hugepages-2Mi", 512 * MiB, 0),
                _mem("hugepages-1Gi", 4 * GiB, 1),
                _mem("memory", 60 * GiB, 0),
            ]
        },
        {
            "pod_resources": [
                _pod(
                    "vm",
                    {
                        "name": "compute",
                        "cpu_ids": [4, 5],
                        "memory": [_mem("hugepages-1Gi", 2 * GiB, 1), _mem("memory", 100 * MiB, 1)],
                    },
                )
            ]
        },
        KubeletResources(
            CpuSet(),
            (
                _block("hugepages-1Gi", 4 * GiB, 0),
                _block("hugepages-1Gi", 4 * GiB, 1),
                _block("hugepages-2Mi", 512 * MiB, 0),
                _block("memory", 60 * GiB, 0),
            ),
            CpuSet.parse("4-5"),
            (_block("hugepages-1Gi", 2 * GiB, 1), _block("memory", 100 * MiB, 1)),
        ),
    ),
    (
        "devices-present-but-ignored",
        {"devices": [DEVICE, DEVICE], "cpu_ids": [0, 1]},
        {
            "pod_resources": [
                _pod(
                    "dpdk",
                    {
                        "name": "app",
                        "devices": [DEVICE],
                        "cpu_ids": [1],
                        "dynamic_resources": [
                            {
                                "claim_name": "gpu",
                                "claim_namespace": "default",
                                "claim_resources": [
                                    {"cdi_devices": [{"name": "vendor.com/gpu=0"}], "driver_name": "d"}
                                ],
                            }
                        ],
                    },
                )
            ]
        },
        KubeletResources(CpuSet.parse("0-1"), (), CpuSet.of([1]), ()),
    ),
    (
        "no-memory-without-static-memory-manager",
        {"cpu_ids": [2, 3]},
        {"pod_resources": [_pod("vm", {"name": "compute", "cpu_ids": [2, 3]})]},
        KubeletResources(CpuSet.parse("2-3"), (), CpuSet.parse("2-3"), ()),
    ),
    (
        "empty-topology",
        {
            "memory": [
                {"memory_type": "memory", "size": GiB},
                {"memory_type": "memory", "size": GiB, "topology": {}},
            ]
        },
        {"pod_resources": [_pod("p", {"name": "c", "memory": [{"memory_type": "memory", "size": MiB}]})]},
        KubeletResources(CpuSet(), (_block("memory", 2 * GiB),), CpuSet(), (_block("memory", MiB),)),
    ),
    (
        "pod-level-resources-counted-once",
        {},
        {
            "pod_resources": [
                _pod(
                    "pod-level",
                    {"name": "a", "cpu_ids": [2, 3], "memory": [_mem("memory", GiB, 0)]},
                    {"name": "b"},
                    cpu_ids=[2, 3, 4, 5],
                    memory=[_mem("memory", 2 * GiB, 0)],
                )
            ]
        },
        KubeletResources(CpuSet(), (), CpuSet.parse("2-5"), (_block("memory", 2 * GiB, 0),)),
    ),
]


@pytest.mark.parametrize(("alloc", "listed", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_reads_what_a_kubelet_serves(
    gen: Generated, sockdir: Path, alloc: dict[str, Any], listed: dict[str, Any], expected: KubeletResources
) -> None:
    path = str(sockdir / "kubelet.sock")
    with FakeKubelet(path, allocatable=_alloc(gen, alloc), listed=_list(gen, listed)) as kubelet:
        got = read_kubelet_resources(path, timeout=TIMEOUT)
    assert got == expected
    assert kubelet.calls == ["GetAllocatableResources", "List"]


def test_method_paths_are_the_ones_protoc_generates(gen: Generated, sockdir: Path) -> None:
    """Served through the generated ``add_PodResourcesListerServicer_to_server``: the client's
    service and method names are the proto's."""
    pb = gen.pb

    class Servicer(gen.grpc.PodResourcesListerServicer):  # type: ignore[misc,name-defined]
        def GetAllocatableResources(self, request: Any, context: Any) -> Any:
            return pb.AllocatableResourcesResponse(cpu_ids=[5, 6])

        def List(self, request: Any, context: Any) -> Any:
            container = pb.ContainerResources(name="c", cpu_ids=[6])
            return pb.ListPodResourcesResponse(
                pod_resources=[pb.PodResources(name="p", containers=[container])]
            )

    path = str(sockdir / "kubelet.sock")
    server = serve_generated(path, gen, Servicer())
    try:
        got = read_kubelet_resources(path, timeout=TIMEOUT)
    finally:
        server.stop(None).wait(10)
    assert got == KubeletResources(CpuSet.parse("5-6"), (), CpuSet.of([6]), ())


def test_unpacked_cpu_ids_decode_like_protobuf_does(gen: Generated) -> None:
    """proto3 packs repeated int64, but parsers must accept the unpacked form too."""
    raw = bytes([0x10, 3, 0x10, 1, 0x12, 2, 7, 9])  # cpu_ids=3, cpu_ids=1, then packed [7, 9]
    parsed = gen.pb.AllocatableResourcesResponse.FromString(raw)
    got = decode_responses(raw, b"", source="s")
    assert got.allocatable_cpus == CpuSet.of(parsed.cpu_ids)
    assert len(parsed.cpu_ids) == 4


# --- property: the protobuf library's encoding, kvnuma's decoding ---------------------------

_ids = st.lists(st.integers(0, 64), max_size=6)
_kind = st.sampled_from(["memory", "hugepages-2Mi", "hugepages-1Gi"])
_memory = st.builds(
    lambda kind, size, nodes, with_topology: (
        {"memory_type": kind, "size": size, "topology": {"nodes": [{"ID": n} for n in nodes]}}
        if with_topology
        else {"memory_type": kind, "size": size}
    ),
    _kind,
    st.integers(0, (1 << 64) - 1),
    st.lists(st.integers(0, 7), max_size=3),
    st.booleans(),
)
_devices = st.lists(
    st.fixed_dictionaries(
        {"resource_name": st.text(max_size=8), "device_ids": st.lists(st.text(max_size=8), max_size=2)}
    ),
    max_size=2,
)
_container = st.fixed_dictionaries(
    {
        "name": st.text(max_size=8),
        "cpu_ids": _ids,
        "memory": st.lists(_memory, max_size=3),
        "devices": _devices,
    }
)
_pod_doc = st.fixed_dictionaries(
    {
        "name": st.text(max_size=8),
        "namespace": st.text(max_size=8),
        "containers": st.lists(_container, max_size=3),
        "cpu_ids": _ids,
        "memory": st.lists(_memory, max_size=2),
    }
)
_alloc_doc = st.fixed_dictionaries(
    {"cpu_ids": _ids, "memory": st.lists(_memory, max_size=4), "devices": _devices}
)
_list_doc = st.fixed_dictionaries({"pod_resources": st.lists(_pod_doc, max_size=4)})


def _oracle_blocks(blocks: list[dict[str, Any]]) -> tuple[MemoryBlock, ...]:
    totals: dict[tuple[str, tuple[int, ...]], int] = {}
    for b in blocks:
        nodes = tuple(sorted({n["ID"] for n in b.get("topology", {}).get("nodes", [])}))
        totals[b["memory_type"], nodes] = totals.get((b["memory_type"], nodes), 0) + b["size"]
    return tuple(MemoryBlock(k, s, n) for (k, n), s in sorted(totals.items()))


def _oracle(alloc: dict[str, Any], listed: dict[str, Any]) -> KubeletResources:
    assigned: set[int] = set()
    memory: list[dict[str, Any]] = []
    for pod in listed["pod_resources"]:
        assigned.update(pod["cpu_ids"])
        for c in pod["containers"]:
            assigned.update(c["cpu_ids"])
        memory.extend(pod["memory"] or [m for c in pod["containers"] for m in c["memory"]])
    return KubeletResources(
        CpuSet.of(alloc["cpu_ids"]),
        _oracle_blocks(alloc["memory"]),
        CpuSet.of(assigned),
        _oracle_blocks(memory),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(alloc=_alloc_doc, listed=_list_doc)
def test_random_messages_decode_to_their_values(
    gen: Generated, alloc: dict[str, Any], listed: dict[str, Any]
) -> None:
    wire_alloc = _alloc(gen, alloc).SerializeToString()
    wire_list = _list(gen, listed).SerializeToString()
    assert decode_responses(wire_alloc, wire_list, source="s") == _oracle(alloc, listed)


# --- bad input ------------------------------------------------------------------------------


def _one_line_error(path: str, read: Any) -> str:
    with pytest.raises(InputError) as caught:
        read()
    err = caught.value
    assert err.source == path
    assert "\n" not in str(err)
    assert str(err) == err.one_line()
    return err.problem


def test_missing_socket(sockdir: Path) -> None:
    path = str(sockdir / "kubelet.sock")
    assert "no such socket" in _one_line_error(path, lambda: read_kubelet_resources(path, timeout=TIMEOUT))


def test_not_a_socket(sockdir: Path) -> None:
    path = sockdir / "kubelet.sock"
    path.write_text("not a socket\n")
    problem = _one_line_error(str(path), lambda: read_kubelet_resources(str(path), timeout=TIMEOUT))
    assert problem == "not a unix socket"


def test_connection_refused(sockdir: Path) -> None:
    path = str(sockdir / "kubelet.sock")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)  # bound, never listening: connect() is refused
    try:
        problem = _one_line_error(path, lambda: read_kubelet_resources(path, timeout=TIMEOUT))
    finally:
        dead.close()
    assert problem.startswith("connection refused")


def test_permission_denied(sockdir: Path, gen: Generated) -> None:
    """The socket's mode lets nobody connect (connect needs write permission); the read runs
    without the capabilities that would override it (as root: setpriv drops every one)."""
    path = str(sockdir / "kubelet.sock")
    script = (
        "from kvnuma.agent.podresources import read_kubelet_resources\n"
        "from kvnuma.errors import InputError\n"
        "try:\n"
        f"    read_kubelet_resources({path!r}, timeout=5)\n"
        "except InputError as e:\n"
        "    print(e.problem)\n"
    )
    command = [sys.executable, "-c", script]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", *command]
    with FakeKubelet(
        path, allocatable=gen.pb.AllocatableResourcesResponse(), listed=gen.pb.ListPodResourcesResponse()
    ):
        os.chmod(path, 0)
        run = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert run.stdout.strip() == "permission denied", run.stderr
    assert run.stderr == ""


def test_deadline_exceeded(gen: Generated, sockdir: Path) -> None:
    path = str(sockdir / "kubelet.sock")
    with FakeKubelet(path, allocatable=HANG, listed=gen.pb.ListPodResourcesResponse()):
        problem = _one_line_error(path, lambda: read_kubelet_resources(path, timeout=0.3))
    assert problem.startswith("deadline exceeded")
    assert "GetAllocatableResources" in problem


def test_kubelet_without_get_allocatable_resources(gen: Generated, sockdir: Path) -> None:
    path = str(sockdir / "kubelet.sock")
    with FakeKubelet(path, allocatable=None, listed=gen.pb.ListPodResourcesResponse()) as kubelet:
        problem = _one_line_error(path, lambda: read_kubelet_resources(path, timeout=TIMEOUT))
    assert "does not implement v1.PodResourcesLister/GetAllocatableResources" in problem
    assert kubelet.calls == []


def test_not_a_grpc_server(sockdir: Path) -> None:
    """Something else listens on the socket: it answers HTTP/1.1 and hangs up."""
    path = str(sockdir / "kubelet.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):  # the client may hang up first
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        problem = _one_line_error(path, lambda: read_kubelet_resources(path, timeout=3))
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert "GetAllocatableResources" in problem


BAD_ANSWERS = [
    ("garbage-bytes", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "malformed GetAllocatableResources"),
    ("truncated-message", bytes([0x1A, 0x40, 0x0A]), "longer than its message"),
    ("group-wire-type", bytes([0x13]), "unsupported wire type 3"),
    ("field-number-zero", bytes([0x00, 0x01]), "field number 0"),
    ("negative-cpu-id", bytes([0x10]) + b"\xff" * 9 + b"\x01", "cpu id -1 out of range"),
    ("cpu-id-over-limit", bytes([0x10, 0x80, 0x80, 0x01]), f"cpu id 16384 out of range (limit {MAX_CPU_ID})"),
    ("memory-type-not-utf8", bytes([0x1A, 0x04, 0x0A, 0x02, 0xC3, 0x28]), "memory type is not UTF-8"),
    ("memory-without-type", bytes([0x1A, 0x02, 0x10, 0x01]), "is not a resource name"),
    ("memory-as-varint", bytes([0x18, 0x01]), "expected a message"),
    (
        "numa-node-over-limit",
        bytes([0x1A, 0x0C, 0x0A, 0x01, 0x6D, 0x1A, 0x07, 0x0A, 0x05, 0x08, 0xFF, 0xFF, 0xFF, 0x0F]),
        "NUMA node id",
    ),
]


@pytest.mark.parametrize(("answer", "needle"), [r[1:] for r in BAD_ANSWERS], ids=[r[0] for r in BAD_ANSWERS])
def test_malformed_allocatable_answer(gen: Generated, sockdir: Path, answer: bytes, needle: str) -> None:
    path = str(sockdir / "kubelet.sock")
    with FakeKubelet(path, allocatable=answer, listed=gen.pb.ListPodResourcesResponse()):
        problem = _one_line_error(path, lambda: read_kubelet_resources(path, timeout=TIMEOUT))
    assert problem.startswith("malformed GetAllocatableResources response")
    assert needle in problem


def test_malformed_list_answer(gen: Generated, sockdir: Path) -> None:
    path = str(sockdir / "kubelet.sock")
    with FakeKubelet(path, allocatable=gen.pb.AllocatableResourcesResponse(), listed=b"\x0a\x05\x1a\x09"):
        problem = _one_line_error(path, lambda: read_kubelet_resources(path, timeout=TIMEOUT))
    assert problem.startswith("malformed List response")


def test_response_over_the_byte_limit(gen: Generated, sockdir: Path) -> None:
    path = str(sockdir / "kubelet.sock")
    # One field: a device list (skipped by the decoder) just over the limit.
    body = b"\x0a" + _varint(MAX_RESPONSE_BYTES) + b"\x00" * MAX_RESPONSE_BYTES
    with FakeKubelet(path, allocatable=body, listed=gen.pb.ListPodResourcesResponse()):
        problem = _one_line_error(path, lambda: read_kubelet_resources(path, timeout=30))
    assert f"larger than the limit of {MAX_RESPONSE_BYTES} bytes" in problem


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


COUNT_BOUNDS = [
    (
        "too-many-pods",
        "list",
        lambda pb: pb.ListPodResourcesResponse(pod_resources=[pb.PodResources()] * (MAX_PODS + 1)),
        f"more pods than the limit of {MAX_PODS}",
    ),
    (
        "too-many-memory-blocks",
        "alloc",
        lambda pb: pb.AllocatableResourcesResponse(
            memory=[pb.ContainerMemory(memory_type="memory")] * (MAX_MEMORY_BLOCKS + 1)
        ),
        f"more memory blocks than the limit of {MAX_MEMORY_BLOCKS}",
    ),
    (
        "too-many-cpu-ids",
        "alloc",
        lambda pb: pb.AllocatableResourcesResponse(cpu_ids=[1] * (MAX_CPU_ID_ENTRIES + 1)),
        f"more cpu ids than the limit of {MAX_CPU_ID_ENTRIES}",
    ),
]


@pytest.mark.parametrize(
    ("which", "build", "needle"), [r[1:] for r in COUNT_BOUNDS], ids=[r[0] for r in COUNT_BOUNDS]
)
def test_counts_over_their_bounds(gen: Generated, which: str, build: Any, needle: str) -> None:
    wire = build(gen.pb).SerializeToString()
    assert len(wire) < MAX_RESPONSE_BYTES  # the count bound, not the byte bound, stops it
    alloc, listed = (wire, b"") if which == "alloc" else (b"", wire)
    problem = _one_line_error("s", lambda: decode_responses(alloc, listed, source="s"))
    assert needle in problem


def test_failures_print_nothing_of_grpc_on_stderr(sockdir: Path) -> None:
    """Nothing but kvnuma's one line reaches a user for the failures it names (no library logs
    of its own on stderr)."""
    dead = sockdir / "dead.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(dead))
    s.close()
    script = (
        "from kvnuma.agent.podresources import read_kubelet_resources\n"
        "from kvnuma.errors import InputError\n"
        f"for p in ({str(sockdir / 'missing.sock')!r}, {str(dead)!r}):\n"
        "    try:\n"
        "        read_kubelet_resources(p, timeout=2)\n"
        "    except InputError as e:\n"
        "        print(e.one_line())\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert run.returncode == 0
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert len(lines) == 2
    assert "no such socket" in lines[0]
    assert "connection refused" in lines[1]


def _raw_h2_server(path: str, answer: list[tuple[str, Any]]) -> tuple[threading.Thread, socket.socket]:
    """A bare HTTP/2 server (``h2``, server side) on ``path`` that answers every stream with
    ``answer``: ``("headers", [...])``, ``("data", bytes)``, ``("trailers", [...])`` in order."""
    import h2.config
    import h2.connection
    import h2.events

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)

    def serve() -> None:
        conn_sock, _ = listener.accept()
        with conn_sock, contextlib.suppress(OSError):  # the client hangs up after its error
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            conn.initiate_connection()
            conn_sock.sendall(conn.data_to_send())
            while data := conn_sock.recv(1 << 16):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.StreamEnded):
                        sid = event.stream_id
                        last = len(answer) - 1
                        for i, (kind, value) in enumerate(answer):
                            if kind == "data":
                                conn.send_data(sid, value, end_stream=i == last)
                            else:
                                conn.send_headers(sid, value, end_stream=i == last)
                conn_sock.sendall(conn.data_to_send())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, listener


GRPC_OK = [("grpc-status", "0")]
GRPC_HEADERS = [(":status", "200"), ("content-type", "application/grpc")]
BAD_HTTP2_ANSWERS = [
    ("http-404", [("headers", [(":status", "404")])], "HTTP status 404"),
    ("no-grpc-status", [("headers", GRPC_HEADERS), ("data", b"\0\0\0\0\0")], "has no grpc-status"),
    (
        "two-messages",
        [("headers", GRPC_HEADERS), ("data", b"\0\0\0\0\0" * 2), ("trailers", GRPC_OK)],
        "not exactly one message",
    ),
    (
        "compressed",
        [("headers", GRPC_HEADERS), ("data", b"\1\0\0\0\1x"), ("trailers", GRPC_OK)],
        "compressed",
    ),
    (
        "status-with-percent-encoded-message",
        [("headers", [*GRPC_HEADERS, ("grpc-status", "14"), ("grpc-message", "kubelet%20is%20busy")])],
        "failed: UNAVAILABLE: kubelet is busy",
    ),
    (
        "declared-length-over-the-limit",
        [("headers", GRPC_HEADERS), ("data", b"\0" + (MAX_RESPONSE_BYTES + 1).to_bytes(4, "big"))],
        f"larger than the limit of {MAX_RESPONSE_BYTES} bytes",
    ),
]


@pytest.mark.parametrize(
    ("answer", "needle"), [r[1:] for r in BAD_HTTP2_ANSWERS], ids=[r[0] for r in BAD_HTTP2_ANSWERS]
)
def test_bad_grpc_answers_from_a_bare_http2_server(sockdir: Path, answer: Any, needle: str) -> None:
    path = str(sockdir / "kubelet.sock")
    thread, listener = _raw_h2_server(path, answer)
    try:
        problem = _one_line_error(path, lambda: read_kubelet_resources(path, timeout=3))
    finally:
        listener.close()
        thread.join(5)
    assert "GetAllocatableResources" in problem
    assert needle in problem
