"""Sequential, domain-invariant feature selection for multimodal sentiment analysis."""

import importlib

__version__ = "0.1.0"

# The estimators import torch; they load on first use so that the command line's --help and
# light submodules (datasets, metrics) start without it.
_LAZY = {
    "DomainCenterer": ".preprocessing._centering",
    "GroupContext": ".preprocessing._context",
    "InvariantMaskSelector": ".selection._selector",
    "SequentialModalityClassifier": ".meta._sequential",
    "SequentialModalityRegressor": ".meta._sequential",
    "TieInvarianceFilter": ".selection._tie_filter",
}

__all__ = [
    "DomainCenterer",
    "GroupContext",
    "InvariantMaskSelector",
    "SequentialModalityClassifier",
    "SequentialModalityRegressor",
    "TieInvarianceFilter",
    "__version__",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
