"""Meta-estimators: one selector stage per modality, fitted in order, each guided by the
columns the earlier stages kept."""

from ._sequential import SequentialModalityClassifier, SequentialModalityRegressor

__all__ = ["SequentialModalityClassifier", "SequentialModalityRegressor"]
