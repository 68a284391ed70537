"""Sequential, domain-invariant feature selection for multimodal sentiment analysis."""

from ._lazy import attach

__version__ = "0.1.0"

# The estimators import torch; they load on first use so that the command line's --help and
# light submodules (datasets, metrics) start without it.
_LAZY = {
    "ContextGRUClassifier": ".contextual._gru",
    "ContextGRURegressor": ".contextual._gru",
    "DomainCenterer": ".preprocessing._centering",
    "GroupContext": ".preprocessing._context",
    "InvariantMaskSelector": ".selection._selector",
    "SequentialModalityClassifier": ".meta._sequential",
    "SequentialModalityRegressor": ".meta._sequential",
    "TieInvarianceFilter": ".selection._tie_filter",
}

__all__ = [
    "ContextGRUClassifier",
    "ContextGRURegressor",
    "DomainCenterer",
    "GroupContext",
    "InvariantMaskSelector",
    "SequentialModalityClassifier",
    "SequentialModalityRegressor",
    "TieInvarianceFilter",
    "__version__",
]


__getattr__, __dir__ = attach(__name__, _LAZY)
