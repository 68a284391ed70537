"""Pure-torch building blocks: gates, heads and penalties, testable without scikit-learn."""

from .gates import HardConcreteGate, StochasticGate, make_gate
from .heads import GatedHead, make_head
from .losses import (
    domain_risks,
    irm_penalty,
    mean_risk,
    redundancy_penalty,
    sparsity_penalty,
    vrex_penalty,
)

__all__ = [
    "GatedHead",
    "HardConcreteGate",
    "StochasticGate",
    "domain_risks",
    "irm_penalty",
    "make_gate",
    "make_head",
    "mean_risk",
    "redundancy_penalty",
    "sparsity_penalty",
    "vrex_penalty",
]
