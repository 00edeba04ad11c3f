"""The model's values are frozen, slotted dataclasses: equal by fields within one class, hashable,
immutable, and they copy, pickle and print as values."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvnuma import model
from kvnuma.model import Cell, Cpu, CpuSet, HostTopology, HugePagePool, PciDevice

ModelValue = CpuSet | Cpu | HugePagePool | Cell | PciDevice | HostTopology

_CPU_SETS = st.frozensets(st.integers(0, 64), max_size=4).map(CpuSet)
_CPUS = st.builds(Cpu, st.integers(0, 64), st.integers(0, 3), siblings=_CPU_SETS, online=st.booleans())
_POOLS = st.builds(
    HugePagePool, st.sampled_from([2 << 20, 1 << 30]), st.integers(0, 9), st.none() | st.integers(0, 9)
)
_CELLS = st.builds(
    Cell,
    st.integers(0, 8),
    st.lists(_CPUS, max_size=3).map(tuple),
    st.integers(0, 1 << 40),
    st.lists(_POOLS, max_size=2).map(tuple),
    st.lists(st.tuples(st.integers(0, 8), st.integers(10, 40)), max_size=2).map(tuple),
)
_DEVICES = st.builds(PciDevice, st.just("0000:3b:00.0"), numa_node=st.integers(-1, 3))
_HOSTS = st.builds(
    HostTopology, st.lists(_CELLS, max_size=2).map(tuple), st.lists(_DEVICES, max_size=2).map(tuple)
)
_VALUES: st.SearchStrategy[ModelValue] = st.one_of(_CPU_SETS, _CPUS, _POOLS, _CELLS, _DEVICES, _HOSTS)


@given(_VALUES)
def test_equal_copies_hash_alike_and_round_trip(value: ModelValue) -> None:
    for twin in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert twin == value
        assert hash(twin) == hash(value)
        assert type(twin) is type(value)
    assert dataclasses.replace(value) == value
    assert eval(repr(value), vars(model)) == value


@given(_VALUES, _VALUES)
def test_equality_is_field_equality_within_one_class(first: ModelValue, second: ModelValue) -> None:
    same_fields = type(first) is type(second) and all(
        getattr(first, name) == getattr(second, name) for name in first.__slots__
    )
    assert (first == second) is same_fields


def test_fields_are_frozen_and_there_is_no_dict() -> None:
    cpu = Cpu(3)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'id'"):
        cpu.id = 4  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del cpu.online
    assert not hasattr(cpu, "__dict__")
    assert cpu.id == 3


def test_dataclasses_helpers_still_work() -> None:
    cell = Cell(1, memory_bytes=1 << 30, distances=((0, 20), (1, 10)))
    moved = dataclasses.replace(cell, id=2)
    assert moved == Cell(2, memory_bytes=1 << 30, distances=((0, 20), (1, 10)))
    assert dataclasses.is_dataclass(cell)
    assert [field.name for field in dataclasses.fields(Cpu)] == list(Cpu.__slots__)
    assert dataclasses.asdict(HugePagePool(2 << 20, 4)) == {
        "page_size_bytes": 2 << 20,
        "total": 4,
        "free": None,
    }


def test_match_args_follow_the_field_order() -> None:
    assert Cpu.__match_args__ == Cpu.__slots__
    match Cpu(5, 1, core_id=2):
        case Cpu(cpu_id, socket, _die, _cluster, core):
            assert (cpu_id, socket, core) == (5, 1, 2)
        case _:
            pytest.fail("no match")


def test_defaults_are_the_dataclass_defaults() -> None:
    assert Cpu(0) == Cpu(0, 0, 0, 0, 0, CpuSet(), True)
    assert Cell(0) == Cell(0, (), 0, (), ())
    assert PciDevice("0000:00:01.0").numa_node == -1
    assert HostTopology(()).pci_devices == ()
    assert CpuSet().ids == frozenset()


def test_a_subclass_compares_and_hashes_its_own_fields_too() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class TaggedCpu(Cpu):
        tag: str = ""

    first, second = TaggedCpu(1, tag="a"), TaggedCpu(1, tag="b")
    assert first != second
    assert first == TaggedCpu(1, tag="a")
    assert first != Cpu(1)
