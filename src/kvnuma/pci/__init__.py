"""PCI device NUMA placement (GPU device NUMA, pcie-expander-bus).

Standard library only (plus ``kvnuma.errors`` and ``kvnuma.xmldoc``): the same code runs inside
KubeVirt's sidecar-shim image as a hook. ``place_pci_devices`` is the entry point for the engine.

The value classes of this package (and of ``kvnuma.hook``) are ``@dataclass(frozen=True)``
without ``slots=True``: the hook bundle runs them on the sidecar's Python 3.9, and ``slots=``
needs Python 3.10 (``tests/hook/test_hook_bundle.py`` runs the bundle on a 3.9 where one exists).
"""

from kvnuma.pci.address import PciAddress
from kvnuma.pci.place import PlacementResult, place_in_doc, place_pci_devices
from kvnuma.pci.plan import DeviceRequest, Expander, PciPlan, Port, Skipped, plan_placement

__all__ = [
    "DeviceRequest",
    "Expander",
    "PciAddress",
    "PciPlan",
    "PlacementResult",
    "Port",
    "Skipped",
    "place_in_doc",
    "place_pci_devices",
    "plan_placement",
]
