"""Sequential, domain-invariant feature selection for multimodal sentiment analysis."""

from ._selector import InvariantMaskSelector
from ._sequential import SequentialModalityClassifier, SequentialModalityRegressor

__version__ = "0.1.0"

__all__ = [
    "InvariantMaskSelector",
    "SequentialModalityClassifier",
    "SequentialModalityRegressor",
    "__version__",
]
