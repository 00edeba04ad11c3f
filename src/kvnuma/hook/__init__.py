"""KubeVirt hook sidecar: PCI NUMA placement at ``onDefineDomain``.

Standard library only (plus ``kvnuma.errors``, ``kvnuma.xmldoc`` and ``kvnuma.pci``): this
package runs inside KubeVirt's sidecar-shim image, where nothing else is installed.
``kvnuma hook bundle`` packs it into one file for a ConfigMap.
"""

from kvnuma.hook.main import HookOutcome, main, on_define_domain

__all__ = ["HookOutcome", "main", "on_define_domain"]
