from __future__ import annotations

from typing import Any

import pytest

from kvnuma.errors import InputError, RuleError
from kvnuma.hotplug import LiveUpdateConfig, apply_defaults, size
from kvnuma.model import Cell, Cpu, HostTopology
from kvnuma.vmi import VmiSpec


def vmi(arch: str = "amd64", **cpu: Any) -> VmiSpec:
    domain: dict[str, Any] = {"cpu": cpu, "memory": {"guest": "1Gi"}}
    return VmiSpec.from_object({"spec": {"architecture": arch, "domain": domain}})


def host(cpus: int) -> HostTopology:
    return HostTopology(cells=(Cell(0, tuple(Cpu(i) for i in range(cpus))),))


@pytest.mark.parametrize(
    ("cpu", "config", "expected"),
    [
        pytest.param({"sockets": 10}, LiveUpdateConfig(), (10, 40, "ratio 4"), id="guide-10-sockets-x-4"),
        pytest.param(
            {"sockets": 10, "maxSockets": 10},
            LiveUpdateConfig(),
            (10, 10, "spec"),
            id="guide-maxSockets-equals-guest",
        ),
        pytest.param(
            {"sockets": 10},
            LiveUpdateConfig(max_hotplug_ratio=1),
            (10, 10, "ratio 1"),
            id="guide-ratio-1-cluster-wide",
        ),
        pytest.param(
            {"sockets": 4}, LiveUpdateConfig(max_cpu_sockets=16), (4, 16, "maxCpuSockets"), id="maxCpuSockets"
        ),
        pytest.param(
            {"sockets": 20},
            LiveUpdateConfig(max_cpu_sockets=16),
            (20, 20, "maxCpuSockets"),
            id="maxCpuSockets-raised-to-sockets",
        ),
        pytest.param(
            {"sockets": 200, "cores": 1, "threads": 1},
            LiveUpdateConfig(),
            (200, 512, "512-vCPU cap"),
            id="cap-512",
        ),
        pytest.param(
            {"sockets": 200}, LiveUpdateConfig(), (200, 800, "ratio 4"), id="no-cap-without-cores-and-threads"
        ),
        pytest.param(
            {"sockets": 3, "cores": 2}, LiveUpdateConfig(), (3, 12, "ratio 4"), id="sockets-set-cores-set"
        ),
        pytest.param({"cores": 2}, LiveUpdateConfig(), (1, 1, "none"), id="raw-sockets-unset-no-hotplug"),
        pytest.param(
            {"sockets": 100, "cores": 4, "threads": 1},
            LiveUpdateConfig(),
            (100, 128, "512-vCPU cap"),
            id="cap-512-divides-by-cores",
        ),
        pytest.param(
            {"sockets": 600, "cores": 1, "threads": 1},
            LiveUpdateConfig(),
            (600, 600, "512-vCPU cap"),
            id="cap-never-below-sockets",
        ),
        pytest.param(
            {"sockets": 128}, LiveUpdateConfig(), (128, 512, "ratio 4"), id="exactly-512-not-capped"
        ),
        pytest.param({"sockets": 4}, LiveUpdateConfig(live_update=False), (4, 4, "none"), id="stage-rollout"),
    ],
)
def test_sizing_as_kubevirt(
    cpu: dict[str, Any], config: LiveUpdateConfig, expected: tuple[int, int, str]
) -> None:
    sizing = size(vmi(**cpu), config)
    assert (sizing.sockets, sizing.max_sockets, sizing.origin) == expected
    assert sizing.hotplug_enabled == (expected[1] > expected[0])


def test_no_hotplug_defaults_on_arm64() -> None:
    sizing = size(vmi("arm64", sockets=4))
    assert (sizing.max_sockets, sizing.hotplug_enabled) == (4, False)


def test_more_sockets_than_max_is_rejected() -> None:
    with pytest.raises(RuleError) as caught:
        size(vmi(sockets=8, maxSockets=4))
    assert (caught.value.needed, caught.value.available) == (8, 4)
    assert "greater than the maximum sockets allowed" in caught.value.detail


def test_warnings_carry_numbers() -> None:
    passthrough: dict[str, Any] = {"guestMappingPassthrough": {}}
    sizing = size(vmi(sockets=10, cores=8, numa=passthrough, dedicatedCpuPlacement=True), host=host(96))
    rules = {w.rule: (w.needed, w.available) for w in sizing.warnings}
    assert rules == {
        "maxvcpus-above-host-cpus": (320, 96),
        "maxvcpus-above-kvm-recommended": (320, 240),
        "hotplug-vcpus-outside-numa": (240, 0),
    }


def test_kvm_recommended_is_a_parameter_and_no_warning_when_disabled() -> None:
    sizing = size(
        vmi(sockets=10, maxSockets=10, numa={"guestMappingPassthrough": {}}), kvm_recommended_vcpus=8
    )
    assert [w.rule for w in sizing.warnings] == ["maxvcpus-above-kvm-recommended"]
    assert size(vmi(sockets=10, maxSockets=10), host=host(10)).warnings == ()


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            {
                "kind": "KubeVirt",
                "spec": {
                    "configuration": {"liveUpdateConfiguration": {"maxHotplugRatio": 2, "maxCpuSockets": 6}}
                },
            },
            LiveUpdateConfig(2, 6),
            id="kubevirt-cr",
        ),
        pytest.param(
            {"kind": "HyperConverged", "spec": {"liveUpdateConfiguration": {"maxHotplugRatio": 1.0}}},
            LiveUpdateConfig(1),
            id="hco-1.0",
        ),
        pytest.param(
            {
                "kind": "HyperConverged",
                "spec": {"kubevirtConfiguration": {"developerConfiguration": {"maxHotplugRatio": "1.0"}}},
            },
            LiveUpdateConfig(1),
            id="hco-developerConfiguration",
        ),
        pytest.param(
            {"kind": "KubeVirt", "spec": {"configuration": {"vmRolloutStrategy": "Stage"}}},
            LiveUpdateConfig(live_update=False),
            id="stage",
        ),
        pytest.param({"kind": "KubeVirt", "spec": {}}, LiveUpdateConfig(), id="defaults"),
    ],
)
def test_cluster_config(obj: dict[str, Any], expected: LiveUpdateConfig) -> None:
    assert LiveUpdateConfig.from_object(obj) == expected


@pytest.mark.parametrize("ratio", [1.5, "1.5", 0, "four", True])
def test_bad_ratio_is_rejected(ratio: object) -> None:
    with pytest.raises(InputError) as caught:
        LiveUpdateConfig.from_object(
            {"kind": "HyperConverged", "spec": {"liveUpdateConfiguration": {"maxHotplugRatio": ratio}}}
        )
    assert caught.value.source.endswith("maxHotplugRatio")


def test_apply_defaults_writes_max_sockets() -> None:
    obj = {"spec": {"domain": {"resources": {"requests": {"cpu": "3"}}}}}
    cpu = apply_defaults(obj, LiveUpdateConfig())["spec"]["domain"]["cpu"]
    assert cpu == {"sockets": 3, "cores": 1, "threads": 1, "maxSockets": 12}
    assert "cpu" not in obj["spec"]["domain"]
