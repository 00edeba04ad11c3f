"""The guest NUMA engine: KubeVirt's guestMappingPassthrough layout as a pure function."""

from kvnuma.placement.engine import check_free_hugepages, plan_guest
from kvnuma.placement.mask import parse_realtime_mask
from kvnuma.placement.memory import SPLIT_MODES, SplitMode, split_memory
from kvnuma.placement.plan import GuestCell, GuestPlan, HotplugVcpu, VcpuPin

__all__ = [
    "SPLIT_MODES",
    "GuestCell",
    "GuestPlan",
    "HotplugVcpu",
    "SplitMode",
    "VcpuPin",
    "check_free_hugepages",
    "parse_realtime_mask",
    "plan_guest",
    "split_memory",
]
