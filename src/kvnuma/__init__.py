"""kvnuma: NUMA-aware virtual machines on Kubernetes (KubeVirt).

Layers (higher may import lower, never the reverse):

    kvnuma.cli, kvnuma.agent, kvnuma.webhook, kvnuma.hook   shells: IO, retries, TLS, exit codes
    kvnuma.render, kvnuma.admission                          plan -> domain XML; VMI -> decision
    kvnuma.placement                                         guest NUMA plan, PCI placement
    kvnuma.topology                                          sysfs / capabilities text -> model
    kvnuma.model, kvnuma.errors                              frozen values and typed failures
"""

from kvnuma.errors import InputError, KvnumaError, RuleError

__all__ = ["InputError", "KvnumaError", "RuleError"]
__version__ = "0.1.0"
