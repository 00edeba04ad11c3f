"""The PCI NUMA affinity policy: one table row per (policy, device locality), on whole domains.

The host has two sockets of two nodes each (nodes 0, 1 on socket 0; nodes 2, 3 on socket 1).
The domain's one guest cell is bound to host node 0.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnuma.errors import InputError, RuleError
from kvnuma.pci import place_pci_devices
from kvnuma.pci.policy import POLICIES, parse_policy
from pci.pci_domains import numa_domain
from support.libvirt import validate_domain

SOCKETS = {0: 0, 1: 0, 2: 1, 3: 1}
DEVICE = {
    "pod node": ("0000:3b:00.0", 0),
    "same socket": ("0000:5e:00.0", 1),
    "other socket": ("0000:af:00.0", 2),
    "no NUMA node": ("0000:d8:00.0", -1),
    "not on the host": ("0000:e1:00.0", None),
}

PLACED, LEFT, REFUSED = "placed", "left in place", "refused"
TABLE = {
    # locality:        legacy  preferred socket   required
    "pod node": (PLACED, PLACED, PLACED, PLACED),
    "same socket": (LEFT, PLACED, PLACED, REFUSED),
    "other socket": (LEFT, PLACED, REFUSED, REFUSED),
    "no NUMA node": (LEFT, LEFT, REFUSED, REFUSED),
    "not on the host": (LEFT, LEFT, REFUSED, REFUSED),
}
WARNS = {"preferred"}


def cell_of_hostdev(xml: str) -> str | None:
    """The guest cell of the one hostdev's expander (None: not behind an expander)."""
    root = ET.fromstring(xml)
    hostdev = root.find("devices/hostdev")
    assert hostdev is not None
    guest = hostdev.find("address")
    if guest is None:
        return None
    ports = {c.get("index"): c for c in root.iter("controller")}
    port = ports[str(int(guest.get("bus", ""), 0))]
    port_address = port.find("address")
    assert port_address is not None
    expander = ports[str(int(port_address.get("bus", ""), 0))]
    return expander.findtext("target/node")


CASES = [
    pytest.param(policy, locality, TABLE[locality][column], id=f"{policy}-{locality.replace(' ', '-')}")
    for column, policy in enumerate(("legacy", "preferred", "socket", "required"))
    for locality in TABLE
]


@pytest.mark.parametrize(("policy", "locality", "outcome"), CASES)
def test_policy_table(policy: str, locality: str, outcome: str) -> None:
    address, node = DEVICE[locality]
    domain = numa_domain(1, [address], memnodes={0: 0})
    nodes = {} if node is None else {address: node}
    if outcome == REFUSED:
        with pytest.raises(RuleError) as refused:
            place_pci_devices(domain, nodes, policy=policy, node_sockets=SOCKETS)
        assert refused.value.rule == "pci-numa-affinity-policy"
        assert address in refused.value.one_line()
        return
    result = place_pci_devices(domain, nodes, policy=policy, node_sockets=SOCKETS)
    (verdict,) = result.verdicts
    assert (verdict.device, verdict.locality, verdict.outcome) == (address, locality, outcome)
    assert cell_of_hostdev(result.xml) == ("0" if outcome == PLACED else None)
    warned = [line for line in result.summary() if line.startswith("warning: ")]
    assert bool(warned) == (policy in WARNS and locality != "pod node")
    if outcome == PLACED:
        validate_domain(result.xml)


def test_preferred_picks_a_same_socket_cell_before_a_lower_one() -> None:
    # two guest cells on host nodes 0 (socket 0) and 2 (socket 1); the device is on node 3
    domain = numa_domain(2, ["0000:af:00.0"], memnodes={0: 0, 1: 2})
    result = place_pci_devices(domain, {"0000:af:00.0": 3}, policy="preferred", node_sockets=SOCKETS)
    assert [(v.locality, v.cell) for v in result.verdicts] == [("same socket", 1)]
    assert cell_of_hostdev(result.xml) == "1"


def test_socket_policy_without_socket_facts_refuses_remote_devices() -> None:
    domain = numa_domain(1, ["0000:5e:00.0"], memnodes={0: 0})
    with pytest.raises(RuleError, match=r"0000:5e:00\.0 is on host node 1, not on the pod"):
        place_pci_devices(domain, {"0000:5e:00.0": 1}, policy="socket", node_sockets={})


def test_legacy_is_what_no_policy_does() -> None:
    domain = numa_domain(2, [a for a, _ in DEVICE.values()], memnodes={0: 0, 1: 2})
    nodes = {a: n for a, n in DEVICE.values() if n is not None}
    assert place_pci_devices(domain, nodes, policy="legacy", node_sockets=SOCKETS).xml == (
        place_pci_devices(domain, nodes).xml
    )


def test_a_refusal_names_every_refused_device() -> None:
    addresses = [a for a, _ in DEVICE.values()]
    domain = numa_domain(1, addresses, memnodes={0: 0})
    nodes = {a: n for a, n in DEVICE.values() if n is not None}
    with pytest.raises(RuleError) as refused:
        place_pci_devices(domain, nodes, policy="required", node_sockets=SOCKETS)
    assert [a for a in addresses if a in str(refused.value)] == addresses[1:]
    assert "4 of 5" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        pytest.param("", "legacy", id="blank"),
        pytest.param(" Required ", "required", id="case-and-blanks"),
        *(pytest.param(p, p, id=p) for p in POLICIES),
    ],
)
def test_parse_policy(text: str, policy: str) -> None:
    assert parse_policy(text, source="annotation") == policy


@pytest.mark.parametrize(
    "text", ["strict", "require", "socket,required", "x" * 500], ids=["other", "typo", "two", "long"]
)
def test_parse_policy_rejects_other_values_in_one_bounded_line(text: str) -> None:
    with pytest.raises(InputError) as bad:
        parse_policy(text, source="annotation")
    line = bad.value.one_line()
    assert line.startswith("annotation: ")
    assert "legacy, preferred, socket, required" in line
    assert len(line) < 200


@st.composite
def policy_cases(draw: st.DrawFn) -> tuple[str, dict[str, int], dict[int, int], str]:
    """A domain of 1-3 cells on distinct host nodes of 0-5 (sockets: node // 2), its devices on
    nodes -1..5 or absent, and a policy."""
    pod = draw(st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True))
    buses = draw(st.lists(st.integers(1, 200), min_size=1, max_size=8, unique=True))
    addresses = [f"0000:{bus:02x}:00.0" for bus in buses]
    nodes = {a: n for a in addresses if (n := draw(st.integers(-2, 5))) != -2}
    domain = numa_domain(len(pod), addresses, memnodes=dict(enumerate(pod)))
    return domain, nodes, {n: n // 2 for n in range(6)}, draw(st.sampled_from(POLICIES))


@settings(max_examples=80, deadline=None)
@given(case=policy_cases())
def test_policy_invariants(case: tuple[str, dict[str, int], dict[int, int], str]) -> None:
    domain, nodes, sockets, policy = case
    pod_nodes = {int(m.group(1)) for m in re.finditer(r"nodeset='(\d+)'", domain)}
    try:
        result = place_pci_devices(domain, nodes, policy=policy, node_sockets=sockets)
    except RuleError as refused:
        # only the refusing policies refuse, and only for a device off the pod's nodes
        assert policy in ("socket", "required")
        assert any(nodes.get(a) not in pod_nodes for a in re.findall(r"\d{4}:\w\w:\w\w\.\d", str(refused)))
        return
    verdicts = {v.device: v for v in result.verdicts}
    assert len(verdicts) == len(result.verdicts) == domain.count("<hostdev ")
    for device, verdict in verdicts.items():
        node = nodes.get(device)
        if verdict.outcome == "placed":
            assert node is not None
            assert node >= 0
            if policy in ("legacy", "required"):
                assert node in pod_nodes
            if policy == "socket":
                assert sockets[node] in {sockets[n] for n in pod_nodes}
        elif policy in ("socket", "required"):
            assert node in pod_nodes  # a device of a refusing policy is placed or local
    if policy == "legacy":
        assert result.xml == place_pci_devices(domain, nodes).xml
