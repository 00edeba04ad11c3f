"""The JSON form: exactly the documented schema, and it reads back."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from topology_strategies import topologies

from kvnuma.errors import InputError
from kvnuma.model import HostTopology, PciDevice
from kvnuma.topology.jsonform import from_json, to_json
from support.hostbuilder import synthetic_host

GiB = 1 << 30


def test_schema_keys_and_values() -> None:
    gpu = PciDevice("0000:3b:00.0", "0x10de", "0x20b5", "0x030200", 1)
    host = synthetic_host(cells=2, cores_per_cell=2, threads=2, memory_per_cell=4 * GiB, pci_devices=[gpu])
    data = to_json(host)
    assert set(data) == {"schemaVersion", "cells", "pciDevices", "summary"}
    assert data["schemaVersion"] == 2
    cell = data["cells"][1]
    assert set(cell) == {"id", "cpus", "memoryBytes", "hugepages", "distances"}
    ids = {"id": 2, "socketId": 1, "dieId": 0, "clusterId": 0, "coreId": 0}
    assert cell["cpus"][0] == {**ids, "siblings": [2, 6], "online": True}
    assert cell["hugepages"][0] == {"pageSizeBytes": 2 << 20, "total": 512, "free": 512}
    assert cell["distances"] == {"0": 21, "1": 10}
    assert data["pciDevices"] == [
        {
            "address": "0000:3b:00.0",
            "numaNode": 1,
            "class": "0x030200",
            "vendor": "0x10de",
            "device": "0x20b5",
        }
    ]
    assert data["summary"] == {
        "cells": 2,
        "cpus": 8,
        "maxSingleNumaCpus": 4,
        "maxSingleNumaMemoryBytes": 4 * GiB,
        "minSingleNumaCpus": 4,
        "minSingleNumaMemoryBytes": 4 * GiB,
        "smtEnabled": True,
        "maxSingleNumaHugepagesBytes": {str(2 << 20): 1 * GiB, str(GiB): 2 * GiB},
    }


@given(topologies(with_free=True))
@settings(max_examples=100, deadline=None)
def test_json_reads_back(topology: HostTopology) -> None:
    text = orjson.dumps(to_json(topology), option=orjson.OPT_SORT_KEYS)
    assert from_json(orjson.loads(text), source="saved.json") == topology


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        pytest.param(lambda d: d.update(schemaVersion=1), "schemaVersion", id="version"),
        pytest.param(lambda d: d["cells"][0].update(id=-1), "cells[0].id", id="cell-id"),
        pytest.param(
            lambda d: d["cells"][0]["cpus"][0].update(siblings="0-1"), "cells[0].cpus[0].siblings", id="sib"
        ),
        pytest.param(
            lambda d: d["cells"][0]["cpus"][0].update(online="yes"), "cells[0].cpus[0].online", id="online"
        ),
        pytest.param(lambda d: d["cells"][0].update(distances=[10]), "cells[0].distances", id="distances"),
        pytest.param(lambda d: d.update(cells={}), "cells", id="cells-not-list"),
    ],
)
def test_bad_json_names_the_field(mutate: object, field: str) -> None:
    data = to_json(synthetic_host(cells=2, cores_per_cell=1))
    assert callable(mutate)
    mutate(data)
    with pytest.raises(InputError) as caught:
        from_json(data, source="saved.json")
    assert caught.value.source == "saved.json"
    assert caught.value.problem.startswith(f"{field}: ")
