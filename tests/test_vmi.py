from __future__ import annotations

from typing import Any

import pytest

from kvnuma.errors import InputError
from kvnuma.vmi import VmiSpec


def vmi(
    cpu: dict[str, Any] | None = None, memory: dict[str, Any] | None = None, **resources: Any
) -> dict[str, Any]:
    domain: dict[str, Any] = {}
    if cpu is not None:
        domain["cpu"] = cpu
    if memory is not None:
        domain["memory"] = memory
    if resources:
        domain["resources"] = resources
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "spec": {"domain": domain}}


@pytest.mark.parametrize(
    ("obj", "vcpus"),
    [
        pytest.param(vmi(), 1, id="nothing-set"),
        pytest.param(vmi({"sockets": 2, "cores": 4, "threads": 2}), 16, id="product"),
        pytest.param(vmi({"cores": 3}), 3, id="zero-counts-as-one"),
        pytest.param(vmi(requests={"cpu": "4"}), 4, id="request"),
        pytest.param(vmi(requests={"cpu": "2"}, limits={"cpu": "6"}), 6, id="limit-wins"),
        pytest.param(vmi(requests={"cpu": "2500m"}), 3, id="rounded-up"),
        pytest.param(vmi({"cores": 2}, requests={"cpu": "8"}), 2, id="topology-beats-request"),
        pytest.param(vmi({"sockets": 2, "maxSockets": 8}), 2, id="max-sockets-not-counted"),
    ],
)
def test_vcpus_counted_as_kubevirt_does(obj: dict[str, Any], vcpus: int) -> None:
    assert VmiSpec.from_object(obj).vcpus == vcpus


@pytest.mark.parametrize(
    ("obj", "engine", "requested"),
    [
        pytest.param(
            vmi(memory={"guest": "2Gi"}, requests={"memory": "3Gi"}), 2 << 30, 2 << 30, id="guest-wins"
        ),
        pytest.param(
            vmi(requests={"memory": "1Gi"}, limits={"memory": "2Gi"}), 1 << 30, 1 << 30, id="request"
        ),
        pytest.param(vmi(limits={"memory": "2Gi"}), 2 << 30, 2 << 30, id="limit-only"),
        pytest.param(vmi(), None, None, id="none"),
    ],
)
def test_memory(obj: dict[str, Any], engine: int | None, requested: int | None) -> None:
    spec = VmiSpec.from_object(obj)
    assert spec.engine_memory_bytes == engine
    assert spec.requested_memory_bytes == requested


def test_numa_realtime_hugepages_flags() -> None:
    spec = VmiSpec.from_object(
        vmi(
            {
                "dedicatedCpuPlacement": True,
                "isolateEmulatorThread": True,
                "numa": {"guestMappingPassthrough": {}},
                "realtime": {"mask": "0-3,^1"},
            },
            {"guest": "1Gi", "hugepages": {"pageSize": "2Mi"}},
        )
    )
    assert spec.dedicated_cpu_placement
    assert spec.isolate_emulator_thread
    assert spec.has_numa
    assert spec.numa_passthrough
    assert spec.realtime
    assert spec.realtime_mask == "0-3,^1"
    assert spec.hugepage_size_bytes == 2 << 20
    assert spec.has_hugepages


def test_empty_numa_is_present_but_not_passthrough() -> None:
    spec = VmiSpec.from_object(vmi({"numa": {}}))
    assert spec.has_numa
    assert not spec.numa_passthrough


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        pytest.param(vmi({"cores": "four"}), "spec.domain.cpu.cores", id="cores-string"),
        pytest.param(vmi({"cores": -1}), "spec.domain.cpu.cores", id="cores-negative"),
        pytest.param(vmi({"sockets": 10**9}), "spec.domain.cpu.sockets", id="absurd-sockets"),
        pytest.param(
            vmi({"dedicatedCpuPlacement": "yes"}), "spec.domain.cpu.dedicatedCpuPlacement", id="flag"
        ),
        pytest.param(vmi(memory={"guest": "12XB"}), "spec.domain.memory.guest", id="bad-quantity"),
        pytest.param(vmi(memory={"guest": "0.5"}), "spec.domain.memory.guest", id="fractional-bytes"),
        pytest.param(vmi(requests={"cpu": "-2"}), "spec.domain.resources.requests.cpu", id="negative-cpu"),
        pytest.param(vmi(memory={"hugepages": {"pageSize": "0"}}), "pageSize", id="zero-page"),
        pytest.param({"spec": []}, "spec", id="spec-not-object"),
        pytest.param([], "expected an object", id="not-an-object"),
    ],
)
def test_bad_fields_are_named(obj: Any, field: str) -> None:
    with pytest.raises(InputError) as caught:
        VmiSpec.from_object(obj, source="vmi.yaml")
    assert field in caught.value.one_line()
    assert caught.value.one_line().startswith("vmi.yaml")
