"""What the kubelet says it can give containers exclusively, and what it has given.

The kubelet's podresources API (``/var/lib/kubelet/pod-resources/kubelet.sock``, gRPC service
``v1.PodResourcesLister``) answers ``GetAllocatableResources`` (the CPUs and memory the CPU and
Memory Managers may hand out: the node less ``--reserved-cpus`` and ``--reserved-memory``) and
``List`` (what each running container holds exclusively). ``kvnuma.agent.podresources`` reads it;
``kvnuma.topology.nrt`` turns it into NodeResourceTopology ``allocatable`` and ``available``.
Plain data: no IO here.
"""

from __future__ import annotations

from dataclasses import dataclass

from kvnuma.model.cpuset import CpuSet

__all__ = ["KubeletResources", "MemoryBlock"]


@dataclass(frozen=True, slots=True)
class MemoryBlock:
    """One podresources ``ContainerMemory``: ``size`` bytes of ``resource`` on host ``nodes``.

    ``resource`` is the kubelet's memory type: ``memory`` or ``hugepages-<size>`` (``hugepages-2Mi``,
    ``hugepages-1Gi``). ``nodes`` is the NUMA affinity the Memory Manager gave it (empty when the
    kubelet reported none, e.g. without the static Memory Manager policy).
    """

    resource: str
    size: int
    nodes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class KubeletResources:
    """The podresources view of one node at one moment.

    ``allocatable_*`` come from ``GetAllocatableResources``; ``assigned_*`` are the union of every
    container's exclusive CPUs and the sum of their memory blocks from ``List``.
    """

    allocatable_cpus: CpuSet
    allocatable_memory: tuple[MemoryBlock, ...]
    assigned_cpus: CpuSet
    assigned_memory: tuple[MemoryBlock, ...]
