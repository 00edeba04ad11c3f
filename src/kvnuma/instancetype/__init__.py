"""Instance types and preferences (``instancetype.kubevirt.io``): read them and expand a
VirtualMachine that references them into the VMI KubeVirt would create."""

from kvnuma.instancetype.cpu_topology import guest_cpu_topology
from kvnuma.instancetype.documents import Instancetype, Preference
from kvnuma.instancetype.expand import InstancetypeConflict, expand
from kvnuma.instancetype.resolve import expand_vm, find_reference

__all__ = [
    "Instancetype",
    "InstancetypeConflict",
    "Preference",
    "expand",
    "expand_vm",
    "find_reference",
    "guest_cpu_topology",
]
