"""A fake kubelet podresources server, built from the kubelet's own ``api.proto``.

``compile_podresources(tmp)`` runs the real protoc (``grpc_tools.protoc``) on
``tests/fixtures/podresources/api.proto`` and imports the generated message and service modules,
so what the fake sends is encoded by the protobuf library, never by kvnuma's decoder.
``FakeKubelet`` serves ``v1.PodResourcesLister`` on a unix socket with a real ``grpc.server``:
each method answers a generated message, raw bytes (for malformed answers), ``HANG`` (the
handler waits until the server stops: the client's deadline runs out), or is left out
(``None``: gRPC answers UNIMPLEMENTED, as a kubelet older than 1.23 does for
GetAllocatableResources).
"""

from __future__ import annotations

import importlib
import shutil
import sys
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc

PROTO = Path(__file__).resolve().parent.parent / "fixtures" / "podresources" / "api.proto"
MODULE = "kubelet_podresources_v1"
SERVICE = "v1.PodResourcesLister"
HANG = object()


@dataclass(frozen=True)
class Generated:
    """The modules protoc generated: ``pb`` (messages) and ``grpc`` (servicer helpers)."""

    pb: ModuleType
    grpc: ModuleType


def compile_podresources(out: Path) -> Generated:
    """Compile the fixture's api.proto into ``out`` with the real protoc and import it."""
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROTO, out / f"{MODULE}.proto")
    code = protoc.main(
        [
            "protoc",
            f"-I{out}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            str(out / f"{MODULE}.proto"),
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed on {PROTO} (exit {code})")
    sys.path.insert(0, str(out))
    try:
        pb = importlib.import_module(f"{MODULE}_pb2")
        svc = importlib.import_module(f"{MODULE}_pb2_grpc")
    finally:
        sys.path.remove(str(out))
    return Generated(pb=pb, grpc=svc)


def _serialize(response: Any) -> bytes:
    if isinstance(response, bytes):
        return response
    data: bytes = response.SerializeToString()
    return data


@dataclass
class FakeKubelet:
    """A podresources server on ``path``; ``allocatable``/``listed`` are the two answers (read at
    each call, so a test can change what the kubelet has assigned while it runs)."""

    path: str
    allocatable: Any = None
    listed: Any = None
    calls: list[str] = field(default_factory=list)
    _server: grpc.Server | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def _answer(self, name: str, attribute: str) -> Any:
        def behaviour(request: bytes, context: grpc.ServicerContext) -> Any:
            self.calls.append(name)
            answer = getattr(self, attribute)  # read at each call: a test may change it
            if answer is HANG:
                self._stop.wait(30)
                context.abort(grpc.StatusCode.UNAVAILABLE, "fake kubelet stopped")
            return answer

        return behaviour

    def start(self) -> FakeKubelet:
        handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        for name, attribute in (("GetAllocatableResources", "allocatable"), ("List", "listed")):
            if getattr(self, attribute) is not None:
                handlers[name] = grpc.unary_unary_rpc_method_handler(
                    self._answer(name, attribute), request_deserializer=None, response_serializer=_serialize
                )
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4),
            options=[("grpc.max_send_message_length", 64 << 20)],
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        if server.add_insecure_port(f"unix:{self.path}") == 0:
            raise RuntimeError(f"cannot listen on {self.path}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.stop(grace=None).wait(10)
            self._server = None

    def __enter__(self) -> FakeKubelet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_generated(path: str, generated: Generated, servicer: Any) -> grpc.Server:
    """A server that registers ``servicer`` through the generated ``add_..._to_server`` (the
    method paths and message types exactly as protoc wrote them from api.proto)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    generated.grpc.add_PodResourcesListerServicer_to_server(servicer, server)
    if server.add_insecure_port(f"unix:{path}") == 0:
        raise RuntimeError(f"cannot listen on {path}")
    server.start()
    return server
