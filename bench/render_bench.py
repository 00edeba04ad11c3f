"""Guest NUMA engine: plan + render time, beside baselines measured in the same run.

    .venv/bin/python bench/render_bench.py [--repeat N]

* goal case: 448 vCPUs (224 cores x 2 threads) on a 448-CPU host with 8 cells and 1Gi pages;
* curve: 8 .. 1,024 vCPUs on a 1,024-CPU, 8-cell SMT host;
* baselines: ElementTree serialisation of a prebuilt tree with as many elements as the rendered
  domain (the floor for any ElementTree renderer), and `virsh capabilities` (a libvirt call a
  launcher makes anyway), when virsh answers.
Times are the median of N runs, in-process (perf_counter).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

from kvnuma.model import Cell, Cpu, CpuSet, HostTopology, HugePagePool
from kvnuma.placement import plan_guest
from kvnuma.render import render_domain
from kvnuma.vmi import VmiSpec

GiB = 1 << 30


def host(cells: int, cores_per_cell: int) -> HostTopology:
    """Linux x86 numbering: first threads of all cores, then the second threads."""
    total = cells * cores_per_cell
    built = []
    for cell in range(cells):
        cpus = []
        for core in range(cell * cores_per_cell, (cell + 1) * cores_per_cell):
            siblings = CpuSet.of([core, core + total])
            cpus += [Cpu(core, socket_id=cell // 4, core_id=core, siblings=siblings)]
            cpus += [Cpu(core + total, socket_id=cell // 4, core_id=core, siblings=siblings)]
        pools = (HugePagePool(GiB, total=64, free=64),)
        built.append(Cell(cell, tuple(sorted(cpus, key=lambda c: c.id)), 128 * GiB, pools))
    return HostTopology(tuple(built))


def vmi(vcpus: int) -> VmiSpec:
    return VmiSpec.from_object(
        {
            "metadata": {"name": f"bench-{vcpus}"},
            "spec": {
                "domain": {
                    "cpu": {
                        "cores": vcpus // 2,
                        "threads": 2,
                        "dedicatedCpuPlacement": True,
                        "isolateEmulatorThread": False,
                        "numa": {"guestMappingPassthrough": {}},
                    },
                    "memory": {"guest": "64Gi", "hugepages": {"pageSize": "1Gi"}},
                }
            },
        }
    )


def median_ms(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def prebuilt_tree(elements: int) -> ET.Element:
    root = ET.Element("domain", type="kvm")
    cputune = ET.SubElement(root, "cputune")
    for i in range(elements - 2):
        ET.SubElement(cputune, "vcpupin", vcpu=str(i), cpuset=str(i))
    return root


def virsh_capabilities_ms(repeat: int) -> float | None:
    def call() -> None:
        subprocess.run(
            ["virsh", "-c", "qemu:///system", "capabilities"], capture_output=True, check=True, timeout=30
        )

    try:
        call()
    except (OSError, subprocess.SubprocessError):
        return None
    return median_ms(call, max(3, repeat // 10))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    repeat = parser.parse_args().repeat

    goal_host = host(8, 28)
    spec = vmi(448)
    cpuset = CpuSet.of(cpu.id for cpu in goal_host.cpus)
    plan = plan_guest(spec, cpuset, goal_host)
    xml = render_domain(plan)
    elements = xml.count("<") - xml.count("</")
    plan_ms = median_ms(lambda: plan_guest(spec, cpuset, goal_host), repeat)
    render_ms = median_ms(lambda: render_domain(plan), repeat)
    tree = prebuilt_tree(elements)
    baseline_ms = median_ms(lambda: ET.tostring(tree, encoding="unicode"), repeat)
    total = plan_ms + render_ms
    print("goal: 448 vCPUs, 8 host cells, 1Gi pages (median of", repeat, "runs)")
    print(f"  plan_guest            {plan_ms:8.2f} ms")
    print(f"  render_domain         {render_ms:8.2f} ms   ({elements} elements)")
    print(f"  plan + render         {total:8.2f} ms   goal <= 10 ms: {'met' if total <= 10 else 'NOT met'}")
    print(f"  baseline: ET.tostring of a prebuilt {elements}-element tree {baseline_ms:.2f} ms"
          f" -> kvnuma/baseline {total / baseline_ms:.1f}x")  # fmt: skip
    virsh_ms = virsh_capabilities_ms(repeat)
    if virsh_ms is not None:
        print(f"  baseline: virsh capabilities {virsh_ms:.2f} ms -> kvnuma/virsh {total / virsh_ms:.2f}x")
    else:
        print("  baseline: virsh capabilities unavailable (no libvirtd answering)")

    print("\ncurve: 1,024-CPU host, 8 cells (plan + render, median ms; ET.tostring baseline)")
    print(f"  {'vCPUs':>6} {'kvnuma':>9} {'baseline':>9} {'ratio':>6}")
    big = host(8, 64)
    big_cpus = CpuSet.of(cpu.id for cpu in big.cpus)
    for vcpus in (8, 16, 32, 64, 128, 256, 448, 512, 768, 1024):
        spec_n = vmi(vcpus)
        ms = median_ms(lambda s=spec_n: render_domain(plan_guest(s, big_cpus, big)), max(5, repeat // 5))  # type: ignore[misc]
        rendered = render_domain(plan_guest(spec_n, big_cpus, big))
        base_tree = prebuilt_tree(rendered.count("<") - rendered.count("</"))
        base = median_ms(lambda t=base_tree: ET.tostring(t, encoding="unicode"), max(5, repeat // 5))  # type: ignore[misc]
        print(f"  {vcpus:>6} {ms:>9.2f} {base:>9.2f} {ms / base:>6.1f}")


if __name__ == "__main__":
    main()
