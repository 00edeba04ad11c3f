"""PCI device NUMA placement (GPU device NUMA, pcie-expander-bus).

Standard library only (plus ``kvnuma.errors`` and ``kvnuma.xmldoc``): the same code runs inside
KubeVirt's sidecar-shim image as a hook. ``place_pci_devices`` is the entry point for the engine.
"""

from kvnuma.pci.place import PlacementResult, place_in_doc, place_pci_devices
from kvnuma.pci.plan import DeviceRequest, Expander, PciPlan, Port, Skipped, plan_placement
from kvnuma.pci.values import PciAddress

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
