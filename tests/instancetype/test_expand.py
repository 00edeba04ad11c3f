from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvnuma.errors import InputError, RuleError
from kvnuma.instancetype import InstancetypeConflict, Preference, expand_vm, guest_cpu_topology
from kvnuma.vmi import VmiSpec

API = "instancetype.kubevirt.io/v1beta1"


def instancetype(
    name: str = "cx1.test", kind: str = "VirtualMachineClusterInstancetype", **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"cpu": {"guest": 8}, "memory": {"guest": "16Gi"}}
    for key, value in spec.items():
        if key in body and isinstance(value, dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": body}


def preference(name: str = "pref", **cpu: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "VirtualMachineClusterPreference",
        "metadata": {"name": name},
        "spec": {"cpu": cpu},
    }


def vm(
    domain: dict[str, Any] | None = None,
    *,
    it: str | None = "cx1.test",
    pref: str | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {"spec": {"domain": domain or {"devices": {}}}}}
    if annotations:
        spec["template"]["metadata"] = {"annotations": annotations}
    if it is not None:
        spec["instancetype"] = {"name": it}
    if pref is not None:
        spec["preference"] = {"name": pref}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "vm1"},
        "spec": spec,
    }


def docs(*objects: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"doc{i}", obj) for i, obj in enumerate(objects)]


CX1 = instancetype(
    cpu={
        "guest": 8,
        "maxSockets": 8,
        "dedicatedCPUPlacement": True,
        "isolateEmulatorThread": True,
        "numa": {"guestMappingPassthrough": {}},
    },
    memory={"guest": "16Gi", "hugepages": {"pageSize": "2Mi"}},
    ioThreadsPolicy="auto",
)


def test_cx1_style_instancetype_expands_to_a_fixed_topology_passthrough_vmi() -> None:
    vmi = expand_vm(vm(), docs(CX1))
    cpu = vmi["spec"]["domain"]["cpu"]
    assert (cpu["sockets"], cpu["cores"], cpu["threads"], cpu["maxSockets"]) == (8, 1, 1, 8)
    assert cpu["dedicatedCpuPlacement"] is True
    assert cpu["isolateEmulatorThread"] is True
    assert cpu["numa"] == {"guestMappingPassthrough": {}}
    assert vmi["spec"]["domain"]["memory"] == {"guest": "16Gi", "hugepages": {"pageSize": "2Mi"}}
    assert vmi["spec"]["domain"]["ioThreadsPolicy"] == "auto"
    assert vmi["metadata"]["labels"]["instancetype.kubevirt.io/cluster-instancetype"] == "cx1.test"
    spec = VmiSpec.from_object(vmi)
    assert (spec.vcpus, spec.max_sockets, spec.numa_passthrough, spec.hugepage_size_bytes) == (
        8,
        8,
        True,
        2 << 20,
    )


def test_expansion_does_not_modify_its_inputs() -> None:
    original, it = vm(), copy.deepcopy(CX1)
    before = copy.deepcopy((original, it))
    expand_vm(original, docs(it))
    assert (original, it) == before


@pytest.mark.parametrize(
    ("guest", "cpu", "expected"),
    [
        pytest.param(8, {}, (8, 1, 1), id="default-sockets"),
        pytest.param(8, {"preferredCPUTopology": "preferSockets"}, (8, 1, 1), id="preferSockets"),
        pytest.param(8, {"preferredCPUTopology": "any"}, (8, 1, 1), id="any-is-sockets"),
        pytest.param(8, {"preferredCPUTopology": "preferCores"}, (1, 8, 1), id="preferCores"),
        pytest.param(8, {"preferredCPUTopology": "threads"}, (1, 1, 8), id="threads"),
        pytest.param(8, {"preferredCPUTopology": "preferSpread"}, (4, 2, 1), id="spread-default-ratio-2"),
        pytest.param(
            12,
            {"preferredCPUTopology": "spread", "spreadOptions": {"ratio": 3}},
            (4, 3, 1),
            id="spread-ratio-3",
        ),
        pytest.param(
            8,
            {"preferredCPUTopology": "spread", "spreadOptions": {"across": "CoresThreads"}},
            (1, 4, 2),
            id="spread-cores-threads",
        ),
        pytest.param(
            16,
            {
                "preferredCPUTopology": "spread",
                "spreadOptions": {"across": "SocketsCoresThreads", "ratio": 4},
            },
            (2, 4, 2),
            id="spread-sockets-cores-threads",
        ),
        pytest.param(1, {"preferredCPUTopology": "cores"}, (1, 1, 1), id="one-vcpu-stays-1-1-1"),
    ],
)
def test_preferred_topology(guest: int, cpu: dict[str, Any], expected: tuple[int, int, int]) -> None:
    it = instancetype(cpu={"guest": guest})
    vmi = expand_vm(vm(pref="pref"), docs(it, preference(**cpu)))
    got = vmi["spec"]["domain"]["cpu"]
    assert (got["sockets"], got["cores"], got["threads"]) == expected


@pytest.mark.parametrize(
    ("guest", "options", "words"),
    [
        pytest.param(
            6, {"ratio": 4}, "not divisible by the Spec.PreferSpreadSocketToCoreRatio", id="sockets-cores"
        ),
        pytest.param(9, {"across": "CoresThreads"}, "number of threads per core 2", id="cores-threads"),
        pytest.param(12, {"across": "SocketsCoresThreads", "ratio": 4}, "threads per core 2 and", id="s-c-t"),
    ],
)
def test_uneven_spread_is_rejected_with_kubevirts_reason(
    guest: int, options: dict[str, Any], words: str
) -> None:
    it = instancetype(cpu={"guest": guest})
    pref = preference(preferredCPUTopology="spread", spreadOptions=options)
    with pytest.raises(InputError) as caught:
        expand_vm(vm(pref="pref"), docs(it, pref))
    assert caught.value.source == "instancetype.spec.cpu.guest"
    assert words in caught.value.problem


@pytest.mark.parametrize(
    ("domain", "fields"),
    [
        pytest.param({"cpu": {"sockets": 2}}, ["spec.template.spec.domain.cpu.sockets"], id="sockets"),
        pytest.param(
            {"cpu": {"cores": 2, "threads": 2}},
            ["spec.template.spec.domain.cpu.cores", "spec.template.spec.domain.cpu.threads"],
            id="cores-threads",
        ),
        pytest.param(
            {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}},
            [
                "spec.template.spec.domain.resources.requests.cpu",
                "spec.template.spec.domain.resources.limits.cpu",
            ],
            id="cpu-resources",
        ),
        pytest.param(
            {
                "cpu": {
                    "dedicatedCpuPlacement": True,
                    "isolateEmulatorThread": True,
                    "numa": {"guestMappingPassthrough": {}},
                }
            },
            [
                "spec.template.spec.domain.cpu.dedicatedCpuPlacement",
                "spec.template.spec.domain.cpu.isolateEmulatorThread",
                "spec.template.spec.domain.cpu.numa",
            ],
            id="dedicated-isolate-numa",
        ),
        pytest.param(
            {"memory": {"guest": "1Gi", "hugepages": {"pageSize": "1Gi"}}},
            ["spec.template.spec.domain.memory.guest"],
            id="memory-stops-at-first",
        ),
        pytest.param(
            {"memory": {"hugepages": {"pageSize": "1Gi"}}},
            ["spec.template.spec.domain.memory.hugepages"],
            id="hugepages",
        ),
        pytest.param(
            {"resources": {"limits": {"memory": "1Gi"}}},
            ["spec.template.spec.domain.resources.limits.memory"],
            id="memory-limit",
        ),
        pytest.param(
            {"ioThreadsPolicy": "shared"}, ["spec.template.spec.domain.ioThreadsPolicy"], id="iothreads"
        ),
    ],
)
def test_conflicting_vm_fields_are_all_named(domain: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(InstancetypeConflict) as caught:
        expand_vm(vm(domain), docs(CX1))
    assert list(caught.value.fields) == fields
    assert caught.value.problem == f"VM field(s) {', '.join(fields)} conflicts with selected instance type"


def test_fields_the_instancetype_leaves_alone_do_not_conflict() -> None:
    it = instancetype()  # sets no dedicated placement, NUMA or hugepages
    domain = {
        "cpu": {"dedicatedCpuPlacement": True, "model": "host-passthrough"},
        "memory": {"hugepages": {"pageSize": "1Gi"}},
    }
    cpu = expand_vm(vm(domain), docs(it))["spec"]["domain"]["cpu"]
    assert cpu["dedicatedCpuPlacement"] is True
    assert cpu["model"] == "host-passthrough"


def test_annotations_conflict_only_on_a_different_value() -> None:
    it = instancetype(annotations={"a": "1", "b": "2"})
    merged = expand_vm(vm(annotations={"a": "1"}), docs(it))["metadata"]["annotations"]
    assert (merged["a"], merged["b"]) == ("1", "2")
    with pytest.raises(InstancetypeConflict) as caught:
        expand_vm(vm(annotations={"b": "3"}), docs(it))
    assert caught.value.fields == ("spec.template.metadata.annotations.b",)


def test_missing_instancetype_is_one_clear_line() -> None:
    with pytest.raises(InputError) as caught:
        expand_vm(vm(it="cx1.nope"), docs(CX1))
    assert caught.value.source == "VM: spec.instancetype"
    assert (
        'virtualmachineclusterinstancetype.instancetype.kubevirt.io "cx1.nope" not found'
        in caught.value.one_line()
    )
    assert "\n" not in caught.value.one_line()


def test_namespaced_kind_is_matched_by_kind() -> None:
    namespaced = instancetype(kind="VirtualMachineInstancetype", cpu={"guest": 2})
    ref = vm()
    ref["spec"]["instancetype"]["kind"] = "virtualmachineinstancetypes"
    assert expand_vm(ref, docs(CX1, namespaced))["spec"]["domain"]["cpu"]["sockets"] == 2
    ref["spec"]["instancetype"]["kind"] = "VirtualMachineClusterInstancetype"
    assert expand_vm(ref, docs(CX1, namespaced))["spec"]["domain"]["cpu"]["sockets"] == 8


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        pytest.param({"memory": {"guest": "16Gx"}}, "spec.memory.guest", id="malformed-quantity"),
        pytest.param({"cpu": {"guest": 0}}, "spec.cpu.guest", id="zero-vcpus"),
        pytest.param(
            {"cpu": {"guest": 8, "dedicatedCPUPlacement": "yes"}},
            "spec.cpu.dedicatedCPUPlacement",
            id="flag-not-bool",
        ),
        pytest.param(
            {"memory": {"guest": "1Gi", "hugepages": {"pageSize": "huge"}}},
            "spec.memory.hugepages.pageSize",
            id="bad-page-size",
        ),
    ],
)
def test_malformed_instancetype_names_the_field(patch: dict[str, Any], field: str) -> None:
    it = instancetype(**patch)
    with pytest.raises(InputError) as caught:
        expand_vm(vm(), docs(it))
    assert caught.value.source.endswith(field)


def test_preference_requirements_are_checked() -> None:
    pref = preference()
    pref["spec"]["requirements"] = {"cpu": {"guest": 16}}
    with pytest.raises(RuleError) as caught:
        expand_vm(vm(pref="pref"), docs(CX1, pref))
    assert (caught.value.needed, caught.value.available) == ("16 vCPU", "8 vCPU")


def test_vm_without_instancetype_is_its_template() -> None:
    domain = {"cpu": {"sockets": 3}, "memory": {"guest": "1Gi"}}
    vmi = expand_vm(vm(domain, it=None), [])
    assert vmi["kind"] == "VirtualMachineInstance"
    assert vmi["spec"]["domain"] == domain


@given(
    guest=st.integers(1, 512),
    topology=st.sampled_from(["sockets", "cores", "threads", "any", "preferSockets", "preferCores"]),
)
def test_every_vcpu_lands_in_the_topology(guest: int, topology: str) -> None:
    pref = Preference.from_object(preference(preferredCPUTopology=topology), source="p")
    assert guest_cpu_topology(guest, pref).vcpus == guest


@given(
    guest=st.integers(1, 256),
    ratio=st.integers(1, 8),
    across=st.sampled_from(["SocketsCores", "CoresThreads", "SocketsCoresThreads"]),
)
def test_an_accepted_spread_keeps_every_vcpu(guest: int, ratio: int, across: str) -> None:
    pref = Preference.from_object(
        preference(preferredCPUTopology="spread", spreadOptions={"ratio": ratio, "across": across}),
        source="p",
    )
    try:
        topology = guest_cpu_topology(guest, pref)
    except InputError:
        return
    assert topology.vcpus == guest
