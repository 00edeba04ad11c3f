"""``kvnuma plan``: this host by default with the embedded example VMI, or given files."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kvnuma.cli import cli
from kvnuma.cli.plan import hugepage_lines
from kvnuma.model import CpuSet, HostTopology
from kvnuma.placement import plan_guest
from kvnuma.topology.sysfs import read_sysfs
from kvnuma.vmi import VmiSpec
from support.hostbuilder import render_capabilities, render_sysfs, synthetic_host
from support.libvirt import validate_domain

MiB = 1 << 20


EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_plan_on_this_host_with_the_embedded_example() -> None:
    code, out, _ = run("plan", "-o", "json")
    assert code == 0
    document = json.loads(out)
    online = sum(1 for cpu in read_sysfs().cpus if cpu.online)
    assert document["plan"]["vcpus"]["enabled"] == online
    assert len(document["plan"]["vcpuPins"]) == online
    assert document["decision"]["outcome"] == "has-numa"
    assert document["decisionWithoutNuma"]["outcome"] in {"fits", "mutated"}
    validate_domain(document["domainXml"])


def test_plan_text_shows_every_section(tmp_path: Path) -> None:
    caps = tmp_path / "caps.xml"
    caps.write_text(
        render_capabilities(synthetic_host(cells=2, cores_per_cell=2, threads=2, hugepages={2 * MiB: 8}))
    )
    code, out, _ = run("plan", "--capabilities", str(caps))
    assert code == 0
    for heading in ("Host topology", "Auto-NUMA decision", "Guest layout", "Domain XML", "<domain"):
        assert heading in out
    # embedded example: 8 CPUs in whole SMT pairs -> 4 cores x 2 threads over both cells, 256Mi
    assert "topology 1 socket x 4 cores x 2 threads" in out
    # 8 pages per cell are not enough for 64 pages; capabilities carry totals only
    assert "WARNING free count not reported and the total does not suffice: hugepages-per-node" in out


def test_plan_applies_the_webhook_mutation(tmp_path: Path) -> None:
    caps = tmp_path / "caps.xml"
    caps.write_text(render_capabilities(synthetic_host(cells=2, cores_per_cell=2, threads=1)))
    vmi = vmi_file(tmp_path, {"cores": 4, "dedicatedCpuPlacement": True}, requests="128Mi")
    code, out, _ = run("plan", "--vmi", str(vmi), "--capabilities", str(caps), "-o", "json")
    assert code == 0
    document = json.loads(out)
    assert document["decision"]["outcome"] == "mutated"
    assert [c["hostCell"] for c in document["plan"]["cells"]] == [0, 1]


def test_plan_bad_input_exit_2(tmp_path: Path) -> None:
    code, _, err = run("plan", "--vmi", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "no such file" in err
    code, _, err = run("plan", "--cpuset", "0-1,zz")
    assert code == 2
    assert err.count("\n") == 1


def example(relpath: str) -> str:
    return str(Path(__file__).resolve().parents[2] / "examples" / relpath)


VM_CX1, CX1 = example("instancetypes/vm-cx1.yaml"), example("instancetypes/cx1-numa-instancetype.yaml")
SPREAD, NODE_A = example("instancetypes/spread-preference.yaml"), example("migration/node-a-capabilities.xml")


def test_plan_expands_a_vm_with_its_instance_type_and_preference() -> None:
    vm = ["--vmi", VM_CX1, "--instancetype", CX1, "--preference", SPREAD]
    code, out, err = run("plan", *vm, "--capabilities", NODE_A, "-o", "json")
    assert code == 0, err
    document = json.loads(out)
    # cx1: 8 vCPUs spread 2 cores per socket, maxSockets 8 from the instance type, isolated emulator
    assert document["plan"]["topology"] == {"sockets": 8, "cores": 2, "threads": 1}
    assert document["plan"]["vcpus"] == {"max": 16, "enabled": 8}
    assert len(document["plan"]["emulatorCpus"]) == 1
    assert sum(c["memoryBytes"] for c in document["plan"]["cells"]) == 16 << 30
    hotplug = document["hotplug"]
    assert (hotplug["sockets"], hotplug["maxSockets"], hotplug["origin"]) == (4, 8, "spec")
    assert [w["rule"] for w in hotplug["warnings"]] == ["hotplug-vcpus-outside-numa"]
    validate_domain(document["domainXml"])


def test_plan_refuses_instance_type_files_for_a_vmi(tmp_path: Path) -> None:
    code, _, err = run("plan", "--vmi", example("engine/numavm.yaml"), "--instancetype", CX1)
    assert code == 2
    assert "apply to a VirtualMachine" in err


def vmi_file(tmp_path: Path, cpu: dict[str, object], requests: str | None = None) -> Path:
    domain: dict[str, object] = {"cpu": cpu, "memory": {"guest": "128Mi", "hugepages": {"pageSize": "2Mi"}}}
    if requests:
        domain["resources"] = {"requests": {"memory": requests}}
    path = tmp_path / "vmi.yaml"
    document = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": {"name": "v"}}
    path.write_text(yaml.safe_dump({**document, "spec": {"domain": domain}}))
    return path


def kubevirt_cr(tmp_path: Path, live: dict[str, int]) -> Path:
    path = tmp_path / "kubevirt.yaml"
    path.write_text(
        yaml.safe_dump(
            {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "metadata": {"name": "kubevirt"},
             "spec": {"configuration": {"liveUpdateConfiguration": live}}}
        )
    )  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("cpu", "config", "expected", "planned_max_vcpus"),
    [
        # (sockets, maxSockets, origin, hotplug on); no config: sized, not applied to the plan
        pytest.param({"sockets": 2}, None, (2, 8, "ratio 4", True), 2, id="default-ratio-4"),
        pytest.param({"sockets": 2}, "ratio-1", (2, 2, "ratio 1", False), 2, id="ratio-1-no-hotplug"),
        pytest.param({"sockets": 2}, {"maxHotplugRatio": 3}, (2, 6, "ratio 3", True), 6, id="ratio-3"),
        pytest.param(
            {"sockets": 2}, {"maxCpuSockets": 5}, (2, 5, "maxCpuSockets", True), 5, id="max-cpu-sockets"
        ),
        pytest.param(
            {"sockets": 2, "maxSockets": 2}, {}, (2, 2, "spec", False), 2, id="max-sockets-equals-guest"
        ),
    ],
)
def test_plan_shows_hotplug_sizing(
    tmp_path: Path,
    cpu: dict[str, int],
    config: object,
    expected: tuple[int, int, str, bool],
    planned_max_vcpus: int,
) -> None:
    caps = tmp_path / "caps.xml"
    caps.write_text(render_capabilities(synthetic_host(cells=2, cores_per_cell=2, threads=1)))
    args = [
        "plan",
        "--vmi",
        str(
            vmi_file(
                tmp_path, {"dedicatedCpuPlacement": True, "numa": {"guestMappingPassthrough": {}}, **cpu}
            )
        ),
        "--capabilities",
        str(caps),
        "--cpuset",
        "0-1",
    ]
    if config == "ratio-1":
        args += ["--cluster-config", example("instancetypes/hyperconverged-ratio-1.yaml")]
    elif isinstance(config, dict):
        args += ["--cluster-config", str(kubevirt_cr(tmp_path, config))]
    code, out, err = run(*args, "-o", "json")
    assert code == 0, err
    document = json.loads(out)
    hotplug = document["hotplug"]
    assert (
        hotplug["sockets"],
        hotplug["maxSockets"],
        hotplug["origin"],
        hotplug["hotplugEnabled"],
    ) == expected
    assert hotplug["clusterConfig"] is (config is not None)
    assert hotplug["planned"] is (config is not None or "maxSockets" in cpu)
    assert document["plan"]["vcpus"] == {"max": planned_max_vcpus, "enabled": 2}
    assert ("hotplug-vcpus-outside-numa" in [w["rule"] for w in hotplug["warnings"]]) is expected[3]
    validate_domain(document["domainXml"])
    code, text, _ = run(*args)
    assert code == 0
    section = text[text.index("CPU hotplug") : text.index("Domain XML")]
    assert f"maxSockets {expected[1]} ({expected[2]})" in section
    assert ("WARNING hotplug-vcpus-outside-numa" in section) is expected[3]


def pages_host(total: int, free: tuple[int | None, int | None]) -> HostTopology:
    """Two cells of 2 CPUs (0-1, 2-3), ``total`` 2Mi pages each, ``free`` per cell (None: unknown)."""
    host = synthetic_host(cells=2, cores_per_cell=2, threads=1, hugepages={2 * MiB: total})
    cells = tuple(
        dataclasses.replace(cell, hugepages=tuple(dataclasses.replace(p, free=f) for p in cell.hugepages))
        for cell, f in zip(host.cells, free, strict=True)
    )
    replaced: HostTopology = dataclasses.replace(host, cells=cells)
    return replaced


UNKNOWN = "free count not reported and the total does not suffice: "
TOTALS_SUFFICE = "the free check could not be made there; the totals suffice"
SHORT = "hugepages-per-node: needed 32 pages of 2Mi, available {} (host node {} backing guest cell {})"


@pytest.mark.parametrize(
    ("form", "total", "free", "expected"),
    [
        pytest.param(
            "capabilities", 512, (None, None),
            [f"free counts not reported on nodes 0, 1: {TOTALS_SUFFICE}"],
            id="capabilities-totals-suffice",
        ),
        pytest.param(
            "capabilities", 16, (None, None),
            [f"WARNING {UNKNOWN}{SHORT.format('16 total', n, n)}" for n in (0, 1)],
            id="capabilities-totals-too-small",
        ),
        pytest.param("sysfs", 512, (512, 512), ["enough free on every node"], id="sysfs-enough-free"),
        pytest.param(
            "sysfs", 512, (10, 512),
            [f"WARNING {SHORT.format('10 free', 0, 0)}", "enough free on node 1"],
            id="sysfs-one-node-short",
        ),
    ],
)  # fmt: skip
def test_plan_says_what_the_free_page_check_could_establish(
    tmp_path: Path, form: str, total: int, free: tuple[int | None, int | None], expected: list[str]
) -> None:
    host = pages_host(total, free)
    if form == "capabilities":
        (tmp_path / "caps.xml").write_text(render_capabilities(host))
        source = ["--capabilities", str(tmp_path / "caps.xml")]
    else:
        render_sysfs(host, tmp_path / "root")
        source = ["--sysfs", str(tmp_path / "root")]
    cpu = {"sockets": 2, "dedicatedCpuPlacement": True, "numa": {"guestMappingPassthrough": {}}}
    args = ["plan", "--vmi", str(vmi_file(tmp_path, cpu)), *source, "--cpuset", "0,2"]
    code, out, err = run(*args)
    assert code == 0, err
    assert [
        line.removeprefix("huge pages: ") for line in out.splitlines() if line.startswith("huge pages:")
    ] == (expected)
    assert ("?/" in out) is (form == "capabilities")  # the host table shows the unknown free counts
    code, out, _ = run(*args, "-o", "json")
    check = json.loads(out)["hugepageCheck"]
    assert check == ("ok" if expected == ["enough free on every node"] else "; ".join(expected))


@pytest.mark.parametrize(
    ("free", "expected"),
    [
        pytest.param(
            (40, None),
            [f"free counts not reported on node 1: {TOTALS_SUFFICE}", "enough free on node 0"],
            id="one-known-one-unknown",
        ),
        pytest.param((40, 40), ["enough free on every node"], id="both-known"),
        pytest.param(
            (40, 0), [f"WARNING {SHORT.format('0 free', 1, 1)}", "enough free on node 0"], id="none-free"
        ),
    ],
)  # fmt: skip
def test_unknown_free_counts_are_named_beside_checked_nodes(
    tmp_path: Path, free: tuple[int | None, int | None], expected: list[str]
) -> None:
    cpu = {"sockets": 2, "dedicatedCpuPlacement": True, "numa": {"guestMappingPassthrough": {}}}
    spec = VmiSpec.from_object(yaml.safe_load(vmi_file(tmp_path, cpu).read_text()))
    host = pages_host(512, free)
    guest = plan_guest(spec, CpuSet.parse("0,2"), host, check_hugepages=False)
    assert hugepage_lines(guest, host) == expected


@pytest.mark.parametrize(
    ("edit", "causes"),
    [
        pytest.param(lambda cpu, domain: None, [], id="admitted"),
        pytest.param(
            lambda cpu, domain: cpu.update(threads=3),
            ["Not more than two threads must be provided at spec.domain.cpu.threads (got 3) when "
             "DedicatedCPUPlacement is true"],
            id="three-threads",
        ),
        pytest.param(
            lambda cpu, domain: domain["resources"]["requests"].update(memory="1025Mi"),
            ["spec.domain.resources.requests.memory '1025Mi' is not a multiple of the page size "
             "spec.domain.hugepages.size '2Mi'"],
            id="memory-not-whole-pages",
        ),
    ],
)  # fmt: skip
def test_plan_shows_kubevirts_admission_verdict(
    tmp_path: Path, edit: Callable[[dict[str, Any], dict[str, Any]], None], causes: list[str]
) -> None:
    document = yaml.safe_load((EXAMPLE_DIR / "engine" / "numavm.yaml").read_text())
    domain = document["spec"]["domain"]
    edit(domain["cpu"], domain)
    vmi = tmp_path / "vmi.yaml"
    vmi.write_text(yaml.safe_dump(document))
    caps = EXAMPLE_DIR / "engine" / "two-socket-smt-caps.xml"
    code, out, err = run(
        "plan", "--vmi", str(vmi), "--capabilities", str(caps), "--cpuset", "0-15", "-o", "json"
    )
    said = [line for line in err.splitlines() if "virt-api would reject" in line]
    assert [line.split("this VMI: ", 1)[1] for line in said] == causes
    if code == 0:  # the engine placed it anyway: the JSON carries the same verdict
        assert json.loads(out)["kubevirtAdmission"] == {"admitted": not causes, "causes": causes}
    else:
        assert causes, err


def test_plan_decides_with_the_feasible_nodes_of_a_folder(tmp_path: Path) -> None:
    caps = tmp_path / "caps.xml"
    caps.write_text(
        render_capabilities(synthetic_host(cells=2, cores_per_cell=12, threads=1, hugepages={1 << 30: 40}))
    )
    review = json.loads((EXAMPLE_DIR / "reviews" / "pinned-vmi.json").read_text())
    vmi = tmp_path / "pinned.yaml"
    vmi.write_text(yaml.safe_dump(review["request"]["object"]))
    cluster = str(EXAMPLE_DIR / "cluster")
    args = ["plan", "--vmi", str(vmi), "--capabilities", str(caps), "--cpuset", "0-19"]
    code, out, _ = run(*args, "--nodes", cluster, "-o", "json")
    assert code == 0
    document = json.loads(out)
    assert document["decision"]["outcome"] == "fits"
    assert (
        "among 1 of 2 nodes matching nodeSelector {node.kubernetes.io/instance-type=m6i.12xlarge}"
        in (document["decision"]["reason"])
    )
    assert document["decisionNodes"] == f"3 nodes in {cluster}, feasible-node threshold"
    code, alone, _ = run(*args, "-o", "json")  # this host alone: 12 CPUs per cell
    assert json.loads(alone)["decision"]["outcome"] == "mutated"
    assert json.loads(alone)["decisionNodes"] == "this host"
    code, text, _ = run(*args, "--nodes", cluster)
    assert code == 0
    assert f"cluster: 3 nodes in {cluster}, feasible-node threshold\n" in text


def test_plan_nodes_folder_without_nodes_exit_2(tmp_path: Path) -> None:
    code, _, err = run("plan", "--nodes", str(tmp_path))
    assert code == 2
    assert "no Node objects" in err
