"""Read the kubelet's podresources API (v1) over its unix socket: ``read_kubelet_resources``.

The kubelet serves gRPC service ``v1.PodResourcesLister`` on
``/var/lib/kubelet/pod-resources/kubelet.sock``. kvnuma calls two of its methods, each with an
empty request:

- ``GetAllocatableResources``: the CPUs and memory the CPU and Memory Managers may hand out
  (kubelet 1.23+ by default; older kubelets answer UNIMPLEMENTED);
- ``List``: what each running pod and container holds exclusively.

The calls are plain gRPC over HTTP/2 (``h2``, the pure-Python HTTP/2 protocol library; gRPC's
framing on top of it is a 5-byte prefix per message and a ``grpc-status`` trailer), on one
connection, with raw bytes in and out: the gRPC runtime (``grpcio``) would add 19 MB to a 150 MB
image for two unary calls. The few response messages are decoded here by a small protobuf wire
decoder that knows only the fields kvnuma uses (field numbers from the kubelet's ``api.proto``;
everything else, devices and DRA resources included, is skipped without being decoded). The
tests talk to a real ``grpcio`` server built from that ``api.proto``. Every size is bounded
before anything is built (``MAX_*`` below), and every failure is one ``InputError`` whose source
is the socket path: missing socket, permission denied, not a socket, connection refused,
deadline exceeded, UNIMPLEMENTED, not a gRPC server, a malformed or oversized response.

What comes back (``kvnuma.model.kubelet.KubeletResources``):

- ``allocatable_cpus`` and ``allocatable_memory`` from ``GetAllocatableResources``; memory blocks
  are summed per (resource, node set), sorted;
- ``assigned_cpus``: the union of every pod's and container's exclusive CPU ids from ``List``;
- ``assigned_memory``: the memory blocks of every pod, summed per (resource, node set). A pod's
  pod-level ``memory`` (newer kubelets, pod-level resources) already includes its containers'
  blocks, so when a pod has one it is counted instead of its containers', never beside them.

Without the static Memory Manager policy the kubelet reports no memory blocks at all (empty
tuples); without the static CPU Manager policy ``cpu_ids`` are empty.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import time
import urllib.parse
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from kvnuma.cpulist import MAX_CPU_ID
from kvnuma.errors import InputError
from kvnuma.model.cpuset import CpuSet
from kvnuma.model.kubelet import KubeletResources, MemoryBlock

__all__ = [
    "DEFAULT_SOCKET",
    "MAX_CONTAINERS",
    "MAX_CPU_ID_ENTRIES",
    "MAX_MEMORY_BLOCKS",
    "MAX_PODS",
    "MAX_RESPONSE_BYTES",
    "decode_responses",
    "read_kubelet_resources",
]

DEFAULT_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock"
SERVICE = "v1.PodResourcesLister"

MAX_RESPONSE_BYTES = 16 << 20
"""The largest response accepted, in bytes (gRPC's own receive limit; 4x gRPC's default)."""
MAX_PODS = 10_000
"""Pods in one ``List`` answer (the kubelet's ``--max-pods`` default is 110)."""
MAX_CONTAINERS = 100_000
"""Containers in one ``List`` answer, all pods together."""
MAX_MEMORY_BLOCKS = 100_000
"""Memory blocks in one answer, all pods and containers together."""
MAX_CPU_ID_ENTRIES = 1 << 20
"""CPU id entries in one answer, all lists together (each id is also at most ``MAX_CPU_ID``)."""
MAX_NODES_PER_BLOCK = MAX_CPU_ID + 1
"""NUMA nodes named by one memory block (each id is also at most ``MAX_CPU_ID``)."""
MAX_RESOURCE_NAME = 253
"""The longest memory type accepted (a Kubernetes resource name)."""

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class _Malformed(Exception):
    """The response is not the message it should be; the text says how (one line)."""


@dataclass(slots=True)
class _Budget:
    """What is left of the per-answer bounds while one response is decoded."""

    pods: int = MAX_PODS
    containers: int = MAX_CONTAINERS
    memory_blocks: int = MAX_MEMORY_BLOCKS
    cpu_ids: int = MAX_CPU_ID_ENTRIES

    def take(self, what: str, count: int = 1) -> None:
        left = getattr(self, what) - count
        if left < 0:
            limit = {
                "pods": MAX_PODS,
                "containers": MAX_CONTAINERS,
                "memory_blocks": MAX_MEMORY_BLOCKS,
                "cpu_ids": MAX_CPU_ID_ENTRIES,
            }[what]
            raise _Malformed(f"more {what.replace('_', ' ')} than the limit of {limit}")
        setattr(self, what, left)


# --- protobuf wire format -------------------------------------------------------------------


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it (at most 10 bytes, value < 2**64)."""
    value = 0
    shift = 0
    while True:
        if pos >= end:
            raise _Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift >= 70:
            raise _Malformed("varint longer than 10 bytes")
    if value >> 64:
        raise _Malformed("varint larger than 64 bits")
    return value, pos


def _fields(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The fields of the message in ``buf[start:end]``: (number, wire type, a, b) where a varint
    has its value in ``a`` and a length-delimited field spans ``buf[a:b]``; fixed-width fields
    are skipped here (no field kvnuma reads has one), groups are malformed."""
    out: list[tuple[int, int, int, int]] = []
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0 or number > 0x1FFFFFFF:
            raise _Malformed(f"field number {number} out of range")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            out.append((number, wire, value, 0))
        elif wire == _LEN:
            length, pos = _varint(buf, pos, end)
            if length > end - pos:
                raise _Malformed(f"field {number} is longer than its message")
            out.append((number, wire, pos, pos + length))
            pos += length
        elif wire in (_I64, _I32):
            pos += 8 if wire == _I64 else 4
            if pos > end:
                raise _Malformed(f"field {number} is truncated")
        else:
            raise _Malformed(f"field {number} has unsupported wire type {wire}")
    return out


def _int64(value: int) -> int:
    """A varint read as protobuf ``int64`` (two's complement)."""
    return value - (1 << 64) if value >> 63 else value


def _ids(buf: bytes, wire: int, a: int, b: int, *, budget: _Budget, what: str) -> list[int]:
    """One ``repeated int64`` field occurrence (packed or not) as checked ids 0..MAX_CPU_ID."""
    raw: list[int] = []
    if wire == _VARINT:
        raw.append(a)
    elif wire == _LEN:
        pos = a
        while pos < b:
            value, pos = _varint(buf, pos, b)
            raw.append(value)
    else:
        raise _Malformed(f"{what} list has wire type {wire}")
    budget.take("cpu_ids", len(raw))
    out = []
    for value in raw:
        ident = _int64(value)
        if not 0 <= ident <= MAX_CPU_ID:
            raise _Malformed(f"{what} {ident} out of range (limit {MAX_CPU_ID})")
        out.append(ident)
    return out


def _text(buf: bytes, a: int, b: int, what: str, limit: int) -> str:
    if b - a > limit:
        raise _Malformed(f"{what} longer than {limit} bytes")
    try:
        return buf[a:b].decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed(f"{what} is not UTF-8") from None


def _want_len(number: int, wire: int, what: str) -> None:
    if wire != _LEN:
        raise _Malformed(f"{what} (field {number}) has wire type {wire}, expected a message")


# --- the podresources messages (field numbers from api.proto) -------------------------------


def _numa_node(buf: bytes, a: int, b: int) -> int:
    """NUMANode { int64 ID = 1; }"""
    ident = 0
    for number, wire, x, _ in _fields(buf, a, b):
        if number == 1:
            if wire != _VARINT:
                raise _Malformed(f"NUMANode.ID has wire type {wire}")
            ident = _int64(x)
    if not 0 <= ident <= MAX_CPU_ID:
        raise _Malformed(f"NUMA node id {ident} out of range (limit {MAX_CPU_ID})")
    return ident


def _topology(buf: bytes, a: int, b: int) -> tuple[int, ...]:
    """TopologyInfo { repeated NUMANode nodes = 1; }"""
    nodes: set[int] = set()
    count = 0
    for number, wire, x, y in _fields(buf, a, b):
        if number == 1:
            _want_len(number, wire, "TopologyInfo.nodes")
            count += 1
            if count > MAX_NODES_PER_BLOCK:
                raise _Malformed(f"a memory block names more than {MAX_NODES_PER_BLOCK} NUMA nodes")
            nodes.add(_numa_node(buf, x, y))
    return tuple(sorted(nodes))


def _memory(buf: bytes, a: int, b: int, budget: _Budget) -> MemoryBlock:
    """ContainerMemory { string memory_type = 1; uint64 size = 2; TopologyInfo topology = 3; }"""
    budget.take("memory_blocks")
    resource = ""
    size = 0
    nodes: tuple[int, ...] = ()
    for number, wire, x, y in _fields(buf, a, b):
        if number == 1:
            _want_len(number, wire, "ContainerMemory.memory_type")
            resource = _text(buf, x, y, "memory type", MAX_RESOURCE_NAME)
        elif number == 2:
            if wire != _VARINT:
                raise _Malformed(f"ContainerMemory.size has wire type {wire}")
            size = x
        elif number == 3:
            _want_len(number, wire, "ContainerMemory.topology")
            nodes = _topology(buf, x, y)
    if not resource or not resource.isascii() or not resource.isprintable() or " " in resource:
        raise _Malformed(f"memory type {resource[:40]!r} is not a resource name")
    return MemoryBlock(resource=resource, size=size, nodes=nodes)


@dataclass(slots=True)
class _Holdings:
    cpus: set[int] = field(default_factory=set)
    memory: list[MemoryBlock] = field(default_factory=list)


def _container(buf: bytes, a: int, b: int, budget: _Budget) -> _Holdings:
    """ContainerResources { string name = 1; repeated ContainerDevices devices = 2;
    repeated int64 cpu_ids = 3; repeated ContainerMemory memory = 4; ... }"""
    budget.take("containers")
    held = _Holdings()
    for number, wire, x, y in _fields(buf, a, b):
        if number == 3:
            held.cpus.update(_ids(buf, wire, x, y, budget=budget, what="container cpu id"))
        elif number == 4:
            _want_len(number, wire, "ContainerResources.memory")
            held.memory.append(_memory(buf, x, y, budget))
    return held


def _pod(buf: bytes, a: int, b: int, budget: _Budget) -> _Holdings:
    """PodResources { string name = 1; string namespace = 2; repeated ContainerResources
    containers = 3; repeated int64 cpu_ids = 4; repeated ContainerMemory memory = 5; }"""
    budget.take("pods")
    held = _Holdings()
    pod_memory: list[MemoryBlock] = []
    for number, wire, x, y in _fields(buf, a, b):
        if number == 3:
            _want_len(number, wire, "PodResources.containers")
            inner = _container(buf, x, y, budget)
            held.cpus |= inner.cpus
            held.memory.extend(inner.memory)
        elif number == 4:
            held.cpus.update(_ids(buf, wire, x, y, budget=budget, what="pod cpu id"))
        elif number == 5:
            _want_len(number, wire, "PodResources.memory")
            pod_memory.append(_memory(buf, x, y, budget))
    if pod_memory:  # the pod-level blocks include the containers' (api.proto): count them once
        held.memory = pod_memory
    return held


def _summed(blocks: list[MemoryBlock]) -> tuple[MemoryBlock, ...]:
    """Blocks summed per (resource, nodes), sorted by resource then nodes."""
    totals: dict[tuple[str, tuple[int, ...]], int] = {}
    for block in blocks:
        key = (block.resource, block.nodes)
        totals[key] = totals.get(key, 0) + block.size
    return tuple(MemoryBlock(resource=r, size=s, nodes=n) for (r, n), s in sorted(totals.items()))


def _allocatable(buf: bytes) -> tuple[CpuSet, tuple[MemoryBlock, ...]]:
    """AllocatableResourcesResponse { repeated ContainerDevices devices = 1;
    repeated int64 cpu_ids = 2; repeated ContainerMemory memory = 3; } -> (cpus, memory)."""
    budget = _Budget()
    cpus: set[int] = set()
    memory: list[MemoryBlock] = []
    for number, wire, x, y in _fields(buf, 0, len(buf)):
        if number == 2:
            cpus.update(_ids(buf, wire, x, y, budget=budget, what="cpu id"))
        elif number == 3:
            _want_len(number, wire, "AllocatableResourcesResponse.memory")
            memory.append(_memory(buf, x, y, budget))
    return CpuSet(frozenset(cpus)), _summed(memory)


def _listed(buf: bytes) -> tuple[CpuSet, tuple[MemoryBlock, ...]]:
    """ListPodResourcesResponse { repeated PodResources pod_resources = 1; } -> the union of
    exclusive CPUs and the summed memory blocks."""
    budget = _Budget()
    cpus: set[int] = set()
    memory: list[MemoryBlock] = []
    for number, wire, x, y in _fields(buf, 0, len(buf)):
        if number == 1:
            _want_len(number, wire, "ListPodResourcesResponse.pod_resources")
            held = _pod(buf, x, y, budget)
            cpus |= held.cpus
            memory.extend(held.memory)
    return CpuSet(frozenset(cpus)), _summed(memory)


# --- the socket and the calls ----------------------------------------------------------------

_STATUS_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)  # gRPC status codes by number
_UNIMPLEMENTED, _DEADLINE_EXCEEDED, _RESOURCE_EXHAUSTED = 12, 4, 8


def _connect(path: str, deadline: float) -> socket.socket:
    """A connected unix socket to ``path``; each common failure named precisely."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(
            path, "no such socket (is the kubelet running and its pod-resources folder mounted?)"
        ) from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot stat the socket: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise InputError(path, "not a unix socket")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        sock.connect(path)
    except BaseException as exc:
        sock.close()
        if isinstance(exc, TimeoutError):
            raise InputError(path, "deadline exceeded: no connection within the timeout") from None
        if isinstance(exc, PermissionError):
            raise InputError(path, "permission denied") from None
        if isinstance(exc, ConnectionRefusedError):
            raise InputError(path, "connection refused (is the kubelet running?)") from None
        if isinstance(exc, OSError):
            if exc.errno == errno.EAGAIN:  # the listen backlog is full
                raise InputError(path, "connection not accepted (the listener's backlog is full)") from None
            raise InputError(path, f"cannot connect: {exc.strerror or exc}") from None
        raise
    return sock


def _first_line(text: str | None, limit: int = 200) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass
class _Answer:
    """What came back on one stream: headers and trailers (merged) and the body bytes."""

    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False


class _Channel:
    """One HTTP/2 connection to the kubelet, unary gRPC calls on it one after the other."""

    def __init__(self, path: str, deadline: float) -> None:
        self.path = path
        self.deadline = deadline
        self.sock = _connect(path, deadline)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.conn.initiate_connection()

    def close(self) -> None:
        self.sock.close()

    def call(self, method: str) -> bytes:
        """One unary call with an empty request; the raw response message."""
        what = f"{SERVICE}/{method}"
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise InputError(self.path, f"deadline exceeded before {what}")
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            stream,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", "localhost"),
                (":path", f"/{what}"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                ("grpc-timeout", f"{max(1, int(remaining * 1000))}m"),
            ],
        )
        self.conn.send_data(stream, b"\0\0\0\0\0", end_stream=True)  # an empty message, uncompressed
        answer = _Answer()
        while True:
            self._send(what)
            if answer.ended:
                break
            for event in self._receive(what):
                self._take(event, stream, answer, method)
        return self._message(answer, method)

    def _send(self, what: str) -> None:
        try:
            self.sock.sendall(self.conn.data_to_send())
        except TimeoutError:
            raise InputError(self.path, f"deadline exceeded sending {what}") from None
        except OSError as exc:
            raise InputError(self.path, f"{what}: connection lost ({exc.strerror or exc})") from None

    def _receive(self, what: str) -> list[h2.events.Event]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise InputError(self.path, f"deadline exceeded waiting for {what}")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 16)
        except TimeoutError:
            raise InputError(self.path, f"deadline exceeded waiting for {what}") from None
        except OSError as exc:
            raise InputError(self.path, f"{what}: connection lost ({exc.strerror or exc})") from None
        if not data:
            raise InputError(self.path, f"{what}: the other end closed the connection (not a gRPC server?)")
        try:
            return self.conn.receive_data(data)
        except h2.exceptions.H2Error as exc:
            raise InputError(
                self.path, f"{what}: not an HTTP/2 gRPC answer ({_first_line(str(exc))})"
            ) from None

    def _take(self, event: h2.events.Event, stream: int, answer: _Answer, method: str) -> None:
        if isinstance(event, h2.events.ConnectionTerminated):
            raise InputError(
                self.path, f"{SERVICE}/{method}: the kubelet closed the connection (HTTP/2 GOAWAY)"
            )
        if getattr(event, "stream_id", stream) != stream:
            return
        if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
            for name, value in event.headers or ():
                answer.headers[str(name)] = str(value)
        elif isinstance(event, h2.events.DataReceived):
            answer.body += event.data or b""
            self.conn.acknowledge_received_data(event.flow_controlled_length or 0, stream)
            if len(answer.body) >= 5 and int.from_bytes(answer.body[1:5], "big") > MAX_RESPONSE_BYTES:
                raise InputError(
                    self.path, f"{method} response is larger than the limit of {MAX_RESPONSE_BYTES} bytes"
                )
        elif isinstance(event, h2.events.StreamReset):
            raise InputError(
                self.path,
                f"{SERVICE}/{method}: the kubelet reset the stream (HTTP/2 error {event.error_code})",
            )
        elif isinstance(event, h2.events.StreamEnded):
            answer.ended = True

    def _message(self, answer: _Answer, method: str) -> bytes:
        what = f"{SERVICE}/{method}"
        http = answer.headers.get(":status", "")
        if http != "200":
            raise InputError(self.path, f"{what}: HTTP status {http or 'missing'} (not a gRPC server?)")
        raw = answer.headers.get("grpc-status")
        code = int(raw) if raw is not None and raw.isdigit() else None
        if code is None:
            raise InputError(self.path, f"{what}: the answer has no grpc-status")
        if code == _UNIMPLEMENTED:
            raise InputError(self.path, f"the kubelet does not implement {what} (kubelet older than 1.23?)")
        details = _first_line(urllib.parse.unquote(answer.headers.get("grpc-message", "")))
        if code == _DEADLINE_EXCEEDED:
            raise InputError(self.path, f"deadline exceeded waiting for {what}")
        if code != 0:
            name = _STATUS_NAMES[code] if code < len(_STATUS_NAMES) else f"status {code}"
            if code == _RESOURCE_EXHAUSTED:
                details = f"{method} response too large for the kubelet ({details})"
            raise InputError(self.path, f"{what} failed: {name}: {details}")
        body = bytes(answer.body)
        if len(body) < 5:
            raise InputError(self.path, f"{what}: the answer has no message")
        length = int.from_bytes(body[1:5], "big")
        if body[0] != 0:
            raise InputError(self.path, f"{what}: the answer is compressed (none was asked for)")
        if len(body) != 5 + length:
            raise InputError(self.path, f"{what}: the answer is not exactly one message")
        return body[5:]


def read_kubelet_resources(socket_path: str, *, timeout: float) -> KubeletResources:
    """Ask the kubelet at ``socket_path`` what it can allocate and what it has assigned.

    ``timeout`` (seconds) bounds the whole read: the connection and both calls. Every failure is
    an ``InputError`` with ``source=socket_path`` and a one-line problem.
    """
    channel = _Channel(socket_path, time.monotonic() + timeout)
    try:
        allocatable = channel.call("GetAllocatableResources")
        listed = channel.call("List")
    finally:
        channel.close()
    return decode_responses(allocatable, listed, source=socket_path)


def decode_responses(allocatable: bytes, listed: bytes, *, source: str) -> KubeletResources:
    """The ``KubeletResources`` of one ``GetAllocatableResources`` and one ``List`` response
    (their protobuf bytes); a malformed or over-bound response is an InputError naming ``source``."""
    if len(allocatable) > MAX_RESPONSE_BYTES or len(listed) > MAX_RESPONSE_BYTES:
        raise InputError(source, f"response is larger than the limit of {MAX_RESPONSE_BYTES} bytes")
    try:
        allocatable_cpus, allocatable_memory = _allocatable(allocatable)
    except _Malformed as exc:
        raise InputError(source, f"malformed GetAllocatableResources response: {exc}") from None
    try:
        assigned_cpus, assigned_memory = _listed(listed)
    except _Malformed as exc:
        raise InputError(source, f"malformed List response: {exc}") from None
    return KubeletResources(
        allocatable_cpus=allocatable_cpus,
        allocatable_memory=allocatable_memory,
        assigned_cpus=assigned_cpus,
        assigned_memory=assigned_memory,
    )
