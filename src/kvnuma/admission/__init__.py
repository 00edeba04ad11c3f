"""The auto-NUMA admission decision (VEP 135): pure, no IO, no clock."""

from kvnuma.admission.capacity import ClusterCapacity, NodeCapacity
from kvnuma.admission.decision import AdmissionConfig, Decision, Mode, Outcome, decide
from kvnuma.admission.kubevirt_rules import passthrough_blockers
from kvnuma.admission.patch import passthrough_patch
from kvnuma.admission.review import ReviewRequest, build_response

__all__ = [
    "AdmissionConfig",
    "ClusterCapacity",
    "Decision",
    "Mode",
    "NodeCapacity",
    "Outcome",
    "ReviewRequest",
    "build_response",
    "decide",
    "passthrough_blockers",
    "passthrough_patch",
]
