"""The skorch layer: the net that trains gates and head with the stage loss, the batches it
draws, and the callbacks of its loop (testable without the scikit-learn estimators)."""

from ._data import ArrayDataset, BatchIterator, BatchTarget
from ._net import GatedNet, StageObjective, StageTerms
from ._sequences import PADDING, GroupSequences, SequenceNet, pad_groups
from .callbacks import InvarianceWarmup, PlainPrintLog, SelectionSettled

__all__ = [
    "PADDING",
    "ArrayDataset",
    "BatchIterator",
    "BatchTarget",
    "GatedNet",
    "GroupSequences",
    "InvarianceWarmup",
    "PlainPrintLog",
    "SelectionSettled",
    "SequenceNet",
    "StageObjective",
    "StageTerms",
    "pad_groups",
]
