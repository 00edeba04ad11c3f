"""Placement tables and properties for the pure PCI placement (no XML)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnuma.errors import RuleError
from kvnuma.pci.address import PciAddress
from kvnuma.pci.plan import DeviceRequest, PciPlan, plan_placement


def dev(bus: int, node: int | None, group: str | None = None, function: int = 0) -> DeviceRequest:
    return DeviceRequest(PciAddress(0, bus, 0, function), node, group)


def layout(plan: PciPlan) -> list[tuple[int, int, int, list[tuple[int, str]]]]:
    """(cell, expander index, busNr, [(port index, device)]) per expander."""
    return [(e.cell, e.index, e.bus_nr, [(p.index, str(p.device)) for p in e.ports]) for e in plan.expanders]


@pytest.mark.parametrize(
    ("devices", "cell_of_node", "expected"),
    [
        pytest.param(
            [dev(0x3B, 0), dev(0xAF, 1)],
            {0: 0, 1: 1},
            [(0, 4, 254, [(5, "0000:3b:00.0")]), (1, 6, 252, [(7, "0000:af:00.0")])],
            id="one-device-per-node",
        ),
        pytest.param(
            [dev(0xB0, 1), dev(0x3B, 0), dev(0xAF, 1), dev(0x3C, 0)],
            {0: 0, 1: 1},
            [
                (0, 4, 253, [(5, "0000:3b:00.0"), (6, "0000:3c:00.0")]),
                (1, 7, 250, [(8, "0000:af:00.0"), (9, "0000:b0:00.0")]),
            ],
            id="two-devices-per-node-sorted-by-address",
        ),
        pytest.param(
            [dev(0x10, 1)],
            {0: 1, 1: 0},
            [(0, 4, 254, [(5, "0000:10:00.0")])],
            id="host-node-1-backs-guest-cell-0",
        ),
        pytest.param(
            [dev(0x3B, 0, "pci0000:3a"), dev(0x3C, 0, "pci0000:3a"), dev(0x5E, 0, "pci0000:5d")],
            {0: 0},
            [
                (0, 4, 253, [(5, "0000:3b:00.0"), (6, "0000:3c:00.0")]),
                (0, 7, 251, [(8, "0000:5e:00.0")]),
            ],
            id="devices-behind-one-root-complex-stay-together",
        ),
    ],
)
def test_placement_table(
    devices: list[DeviceRequest], cell_of_node: dict[int, int], expected: list[object]
) -> None:
    plan = plan_placement(devices, cell_of_node, foreign_indexes=frozenset(range(4)))
    assert layout(plan) == expected
    assert plan.skipped == ()


def test_eight_devices_on_eight_nodes() -> None:
    devices = [dev(0x10 * (node + 1), node) for node in range(8)]
    plan = plan_placement(devices, {n: n for n in range(8)}, foreign_indexes=frozenset({0, 1, 2}))
    assert [e.cell for e in plan.expanders] == list(range(8))
    assert [e.bus_nr for e in plan.expanders] == [254 - 2 * n for n in range(8)]
    assert [e.index for e in plan.expanders] == [3 + 2 * n for n in range(8)]
    assert all(p.index == e.index + 1 for e in plan.expanders for p in e.ports)


@pytest.mark.parametrize(
    ("device", "cell_of_node", "rule"),
    [
        pytest.param(dev(0x3B, 2), {0: 0, 1: 1}, "pci-guest-cell", id="node-without-guest-cell"),
        pytest.param(dev(0x3B, -1), {0: 0}, "pci-numa-affinity", id="no-affinity"),
        pytest.param(dev(0x3B, None), {0: 0}, "pci-device-present", id="not-on-host"),
        pytest.param(
            DeviceRequest(PciAddress(0, 0x3B, 0, 0), 0, foreign_address=True),
            {0: 0},
            "pci-guest-address",
            id="address-set-by-someone-else",
        ),
    ],
)
def test_unplaceable_device_stays_or_fails_strict(
    device: DeviceRequest, cell_of_node: dict[int, int], rule: str
) -> None:
    placeable = dev(0x10, 0)
    plan = plan_placement([device, placeable], cell_of_node, foreign_indexes=frozenset({0}))
    assert [s.rule for s in plan.skipped] == [rule]
    assert [str(p.device) for e in plan.expanders for p in e.ports] == ["0000:10:00.0"]
    with pytest.raises(RuleError) as caught:
        plan_placement([device, placeable], cell_of_node, foreign_indexes=frozenset({0}), strict=True)
    assert caught.value.rule == rule
    assert "0000:3b:00.0" in caught.value.one_line()


def test_running_out_of_bus_numbers_is_a_rule_error() -> None:
    devices = [dev(bus, 0) for bus in range(60)]
    with pytest.raises(RuleError) as caught:
        plan_placement(devices, {0: 0}, foreign_indexes=frozenset(range(150)))
    assert caught.value.rule == "pci-bus-numbers"
    assert caught.value.needed == "62 bus numbers"
    assert caught.value.available == "52"


def test_the_last_fitting_count_fits() -> None:
    # highest foreign index 149: (254 - 149) // 2 = 52 controllers fit: 1 expander + 51 ports
    devices = [dev(bus, 0) for bus in range(50)]
    plan = plan_placement(devices, {0: 0}, foreign_indexes=frozenset(range(150)))
    assert plan.controller_count == 52
    lowest_bus = min(e.bus_nr for e in plan.expanders)
    highest_index = max(p.index for e in plan.expanders for p in e.ports)
    assert lowest_bus > highest_index + 1


def test_more_than_32_devices_of_one_group_get_a_second_expander() -> None:
    devices = [dev(bus, 0) for bus in range(40)]
    plan = plan_placement(devices, {0: 0}, foreign_indexes=frozenset({0}))
    assert [len(e.ports) for e in plan.expanders] == [32, 8]
    assert [p.slot for p in plan.expanders[0].ports] == list(range(32))


def test_previous_indexes_are_reused() -> None:
    devices = [dev(0x3B, 0), dev(0xAF, 1)]
    first = plan_placement(devices, {0: 0, 1: 1}, foreign_indexes=frozenset(range(4)))
    used = [i for e in first.expanders for i in (e.index, *(p.index for p in e.ports))]
    # libvirt added root ports 8 and 9 after kvnuma's 4..7
    again = plan_placement(
        devices, {0: 0, 1: 1}, foreign_indexes=frozenset({0, 1, 2, 3, 8, 9}), previous_indexes=used
    )
    assert layout(again) == layout(first)


devices_strategy = st.lists(
    st.builds(
        dev,
        st.integers(0, 255),
        st.one_of(st.none(), st.integers(-1, 9)),
        st.sampled_from([None, "pci0000:00", "pci0000:3a", "pci0000:ae"]),
        st.integers(0, 7),
    ),
    max_size=24,
    unique_by=lambda d: d.address,
)


@settings(max_examples=150, deadline=None)
@given(devices=devices_strategy, cells=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_placement_invariants(devices: list[DeviceRequest], cells: int, seed: int) -> None:
    cell_of_node = {node: node % cells for node in range(cells)}
    plan = plan_placement(devices, cell_of_node, foreign_indexes=frozenset(range(5)))
    shuffled = list(devices)
    random.Random(seed).shuffle(shuffled)
    assert plan_placement(shuffled, cell_of_node, foreign_indexes=frozenset(range(5))) == plan
    placed = [p.device for e in plan.expanders for p in e.ports]
    assert sorted(placed + [s.device for s in plan.skipped]) == sorted(d.address for d in devices)
    by_address = {d.address: d for d in devices}
    for expander in plan.expanders:
        for port in expander.ports:
            node = by_address[port.device].host_node
            assert node is not None
            assert cell_of_node[node] == expander.cell
    indexes = [i for e in plan.expanders for i in (e.index, *(p.index for p in e.ports))]
    assert len(set(indexes)) == len(indexes)
    assert all(i >= 5 for i in indexes)
    ranges = sorted((e.bus_nr, e.bus_nr + len(e.ports)) for e in plan.expanders)
    assert all(high < next_low for (_, high), (next_low, _) in itertools.pairwise(ranges))
    assert all(high <= 255 for _, high in ranges)
    if indexes:
        assert ranges[0][0] > max(indexes) + 1
