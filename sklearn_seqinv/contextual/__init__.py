"""Contextual heads: predictors that read the other rows of a row's group (the other
utterances of its video) in their order."""

from ._gru import ContextGRUClassifier, ContextGRURegressor

__all__ = ["ContextGRUClassifier", "ContextGRURegressor"]
