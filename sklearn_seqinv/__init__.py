"""Sequential, domain-invariant feature selection for multimodal sentiment analysis."""

from ._selector import InvariantMaskSelector

__version__ = "0.1.0"

__all__ = ["InvariantMaskSelector", "__version__"]
