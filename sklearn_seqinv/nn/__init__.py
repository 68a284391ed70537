"""Pure-torch building blocks: gates, heads and penalties, testable without scikit-learn."""

from .gates import HardConcreteGate, StochasticGate, make_gate
from .heads import (
    GatedHead,
    GatedMembers,
    StackedLinear,
    embed_linear,
    expand_inputs,
    make_head,
    restrict_inputs,
)
from .losses import (
    OutputMean,
    coral_penalty,
    domain_risks,
    irm_penalty,
    mean_risk,
    member_irm_penalty,
    member_risks,
    member_vrex_penalty,
    redundancy_penalty,
    sparsity_penalty,
    vrex_penalty,
)
from .recurrent import MaskedMSELoss, UtteranceGRU

__all__ = [
    "GatedHead",
    "GatedMembers",
    "HardConcreteGate",
    "MaskedMSELoss",
    "OutputMean",
    "StackedLinear",
    "StochasticGate",
    "UtteranceGRU",
    "coral_penalty",
    "domain_risks",
    "embed_linear",
    "expand_inputs",
    "irm_penalty",
    "make_gate",
    "make_head",
    "mean_risk",
    "member_irm_penalty",
    "member_risks",
    "member_vrex_penalty",
    "redundancy_penalty",
    "restrict_inputs",
    "sparsity_penalty",
    "vrex_penalty",
]
