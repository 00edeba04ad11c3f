"""KubeVirt v1.6.0's own output on 500 seeded random cases, and kvnuma's on the same inputs.

The corpus (``tests/fixtures/conformance/``, see its PROVENANCE.md) holds, per case, a host's
capabilities XML, the pod's dedicated cpuset, a VMI, the KubeVirt CR, and what KubeVirt's real
code did: ``ok`` (a domain), ``admission-only`` (virt-api rejects the VMI), ``launcher`` (the
converter refused) or ``panic``. This module runs ``kvnuma render`` on each case through the CLI
(as a user would) and reduces both domains to the sections the engine owns, so a test can say
section by section where the two agree.
"""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from kvnuma.admission.kubevirt_rules import create_admitter_causes
from kvnuma.cli.render import render
from kvnuma.errors import KvnumaError
from kvnuma.vmi import VmiSpec

CORPUS = Path(__file__).parent.parent / "fixtures" / "conformance" / "cases-seed1001.jsonl.gz"

# KubeVirt outcome -> the outcome kvnuma must give
KUBEVIRT_OUTCOMES = {"ok": "rendered", "admission-only": "rejected", "launcher": "refused", "panic": "panic"}


@dataclass(frozen=True)
class Case:
    id: str
    input: dict[str, Any]
    kubevirt: dict[str, Any]

    @property
    def expected(self) -> str:
        return KUBEVIRT_OUTCOMES[self.kubevirt["outcome"]]


@cache
def cases() -> tuple[Case, ...]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return tuple(Case(row["id"], row["input"], row["kubevirt_v1_6_0"]) for row in rows)


@dataclass
class Result:
    outcome: str  # rendered | rejected | refused | error
    xml: str = ""
    message: str = ""
    causes: list[str] = field(default_factory=list)


def run_kvnuma(case: Case, workdir: Path, *extra: str) -> Result:
    """``kvnuma render`` on the case's files (KubeVirt's admission rules first, as virt-api
    runs them before any launcher)."""
    vmi = case.input["vmi"]
    causes = create_admitter_causes(VmiSpec.from_object(vmi, source=case.id), vmi)
    if causes:  # virt-api rejects the VMI: no launcher ever runs
        return Result("rejected", causes=causes)
    paths = {
        "vmi": workdir / f"{case.id}-vmi.yaml",
        "caps": workdir / f"{case.id}-caps.xml",
        "kv": workdir / f"{case.id}-kubevirt.yaml",
    }
    paths["vmi"].write_text(yaml.safe_dump(vmi), encoding="utf-8")
    paths["caps"].write_text(case.input["capabilities_xml"], encoding="utf-8")
    paths["kv"].write_text(yaml.safe_dump(case.input["kubevirt"]), encoding="utf-8")
    args = [
        "--vmi", str(paths["vmi"]),
        "--capabilities", str(paths["caps"]),
        "--cpuset", case.input["pod_cpuset"],
        "--cluster-config", str(paths["kv"]),
        "--kubevirt", str(paths["kv"]),
        *extra,
    ]  # fmt: skip
    done = CliRunner().invoke(render, args, catch_exceptions=True)
    if isinstance(done.exception, KvnumaError):
        return Result("refused", message=done.exception.one_line(), causes=causes)
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        return Result("error", message=f"{type(done.exception).__name__}: {done.exception}", causes=causes)
    if done.exit_code == 0:
        return Result("rendered", xml=done.stdout)
    return Result("refused", message=done.stderr.strip())


def _pins(root: ET.Element, tag: str, key: str) -> dict[str, str]:
    return {pin.get(key, ""): pin.get("cpuset", "") for pin in root.iterfind(f"./cputune/{tag}")}


def _attrs(element: ET.Element | None, *names: str) -> dict[str, str] | None:
    if element is None:
        return None
    return {name: element.get(name, "") for name in names if element.get(name) is not None}


def _bytes(value: str, unit: str) -> int:
    scale = {"b": 1, "bytes": 1, "KiB": 1 << 10, "k": 1 << 10, "MiB": 1 << 20, "M": 1 << 20, "GiB": 1 << 30}
    return int(value) * scale.get(unit or "KiB", 1)


def sections(xml: str) -> dict[str, Any]:
    """The engine-owned parts of a domain, in comparable form (memory in bytes, pins by id)."""
    root = ET.fromstring(xml)
    cpu = root.find("./cpu")
    cells = []
    if cpu is not None:
        for cell in cpu.iterfind("./numa/cell"):
            cells.append(
                {
                    "id": cell.get("id"),
                    "cpus": cell.get("cpus", ""),
                    "memory": _bytes(cell.get("memory", "0"), cell.get("unit", "KiB")),
                    "distances": [
                        (s.get("id"), s.get("value")) for s in cell.iterfind("./distances/sibling")
                    ],
                }
            )
    backing = root.find("./memoryBacking")
    pages = (
        sorted(
            (_bytes(page.get("size", "0"), page.get("unit", "KiB")), page.get("nodeset", ""))
            for page in backing.iterfind("./hugepages/page")
        )
        if backing is not None
        else []
    )
    vcpu = root.find("./vcpu")
    vcpus = root.find("./vcpus")
    max_memory = root.find("./maxMemory")
    iothreads = root.find("./iothreads")
    return {
        "vcpupin": _pins(root, "vcpupin", "vcpu"),
        "emulatorpin": (
            root.find("./cputune/emulatorpin").get("cpuset")  # type: ignore[union-attr]
            if root.find("./cputune/emulatorpin") is not None
            else None
        ),
        "iothreadpin": _pins(root, "iothreadpin", "iothread"),
        "iothreads": iothreads.text.strip() if iothreads is not None and iothreads.text else None,
        "cells": cells,
        "numatune": {
            memnode.get("cellid", ""): (memnode.get("mode", ""), memnode.get("nodeset", ""))
            for memnode in root.iterfind("./numatune/memnode")
        },
        "numatune_memory": _attrs(root.find("./numatune/memory"), "mode", "nodeset"),
        "hugepages": pages,
        "memory_backing": sorted(child.tag for child in backing) if backing is not None else [],
        "memfd": (_attrs(backing.find("./source"), "type") if backing is not None else None),
        "allocation": _attrs(backing.find("./allocation"), "mode") if backing is not None else None,
        "topology": _attrs(
            cpu.find("./topology") if cpu is not None else None, "sockets", "cores", "threads"
        ),
        "vcpu": (vcpu.text or "").strip() if vcpu is not None else None,
        "vcpu_current": vcpu.get("current") if vcpu is not None else None,
        "vcpus": (
            [(v.get("id"), v.get("enabled"), v.get("hotpluggable")) for v in vcpus]
            if vcpus is not None
            else []
        ),
        "cpu_mode": cpu.get("mode") if cpu is not None else None,
        "cpu_features": (
            sorted((f.get("name", ""), f.get("policy", "")) for f in cpu.iterfind("./feature"))
            if cpu is not None
            else []
        ),
        "max_memory": (
            (_bytes((max_memory.text or "0").strip(), max_memory.get("unit", "KiB")), max_memory.get("slots"))
            if max_memory is not None
            else None
        ),
        "vcpusched": [s.get("vcpus") for s in root.iterfind("./cputune/vcpusched")],
        "pmu": _attrs(root.find("./features/pmu"), "state"),
    }


def differences(ours: dict[str, Any], theirs: dict[str, Any]) -> Iterator[str]:
    for key, value in theirs.items():
        if ours.get(key) != value:
            yield key
