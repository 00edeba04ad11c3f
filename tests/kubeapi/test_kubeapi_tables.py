"""Server-side printing (kubeapi/tables.py): apimachinery's HumanDuration and the Table shape."""

from __future__ import annotations

import re

import pytest

from kubeapi.status import ApiFailure
from kubeapi.store import KUBEVIRT, NODE
from kubeapi.tables import human_duration, table, wants_table


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param(-5, "<invalid>", id="future"),
        pytest.param(0, "0s", id="now"),
        pytest.param(119, "119s", id="under-two-minutes-in-seconds"),
        pytest.param(125, "2m5s", id="minutes-and-seconds-under-ten"),
        pytest.param(600, "10m", id="ten-minutes"),
        pytest.param(3 * 3600 + 60, "3h1m", id="hours-and-minutes-under-eight"),
        pytest.param(30 * 3600, "30h", id="hours-under-two-days"),
        pytest.param(3 * 86400 + 3600, "3d1h", id="days-and-hours-under-eight"),
        pytest.param(400 * 86400, "400d", id="days-under-two-years"),
        pytest.param(3 * 365 * 86400 + 86400, "3y1d", id="years-and-days"),
        pytest.param(9 * 365 * 86400, "9y", id="years"),
    ],
)
def test_human_duration(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        pytest.param("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", True, id="kubectl"),
        pytest.param("application/json;as=Table;v=v1beta1;g=meta.k8s.io", True, id="v1beta1"),
        pytest.param(
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1", False, id="metadata"
        ),
        pytest.param("application/json, application/json;as=Table;v=v1;g=meta.k8s.io", False, id="not-first"),
    ],
)
def test_wants_table(accept: str, wanted: bool) -> None:
    assert wants_table(accept) is wanted


def test_rows_carry_metadata_by_default_and_the_object_or_nothing_when_asked() -> None:
    node = {"metadata": {"name": "n", "creationTimestamp": "2020-01-01T00:00:00Z"}, "status": {}}
    default = table(NODE, [node], {"resourceVersion": "7"}, None, "")
    assert default["metadata"] == {"resourceVersion": "7"}
    assert default["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert default["rows"][0]["cells"][:3] == ["n", "Unknown", "<none>"]
    assert table(NODE, [node], {}, None, "Object")["rows"][0]["object"] is node
    assert "object" not in table(NODE, [node], {}, None, "None")["rows"][0]
    with pytest.raises(ApiFailure):
        table(NODE, [node], {}, None, "Everything")


def test_custom_resources_print_their_columns_or_age() -> None:
    kv = {
        "metadata": {"name": "kv", "creationTimestamp": "2020-01-01T00:00:00Z"},
        "status": {"phase": "Deployed"},
    }
    columns = [{"name": "Phase", "type": "string", "jsonPath": ".status.phase"}]
    printed = table(KUBEVIRT, [kv], {}, columns, "")
    assert [c["name"] for c in printed["columnDefinitions"]] == ["Name", "Phase"]
    assert printed["rows"][0]["cells"] == ["kv", "Deployed"]
    aged = table(KUBEVIRT, [kv], {}, [], "")
    assert [c["name"] for c in aged["columnDefinitions"]] == ["Name", "Age"]
    assert re.fullmatch(r"\d+y(\d+d)?", aged["rows"][0]["cells"][1])  # created in 2020
