"""The library's exceptions, in one place.

Bad input raises scikit-learn's usual ``ValueError`` / ``TypeError`` with a message that names
what is wrong; the classes here are for the cases a caller may want to catch by type.
"""

import pickle

__all__ = [
    "ClosedGatesWarning",
    "DeviceFallbackWarning",
    "PenaltyWithoutEnvironmentsWarning",
    "SeqinvWarning",
    "SingleClassDomainWarning",
    "TrainingInterrupted",
    "UnsafePickleError",
]


class UnsafePickleError(pickle.UnpicklingError):
    """Raised when a pickle names anything beyond containers and numpy arrays.

    The restricted unpickler of the loaders raises it instead of running code named in a
    crafted file.
    """


class TrainingInterrupted(Exception):
    """Carries a ``KeyboardInterrupt`` out of skorch's training loop, which would swallow it.

    ``fit`` turns it back into ``KeyboardInterrupt`` after restoring the estimator's state.
    """


class SeqinvWarning(UserWarning):
    """Base class of the library's warnings: filter them all by this category."""


class PenaltyWithoutEnvironmentsWarning(SeqinvWarning):
    """An invariance penalty was asked for, but fit saw one environment: it is zero.

    Single-source fits are built this way on purpose (the evaluation's single-source
    protocol filters it); elsewhere it usually means ``sample_domain`` did not reach fit.
    """


class ClosedGatesWarning(SeqinvWarning):
    """No gate ended above the threshold; the strongest column is kept.

    Strong candidate sparsities of a grid search close every gate of some folds, and the
    search moves on: the evaluation filters it.
    """


class SingleClassDomainWarning(SeqinvWarning):
    """A training domain holds a single class: its risk and its ties to the label cannot be
    compared with the other domains', so the invariance penalty and the tie test learn
    little from it (and a domain held out in validation cannot be scored alone)."""


class DeviceFallbackWarning(SeqinvWarning):
    """A model trained on CUDA was loaded where CUDA is not available: it runs on the CPU."""
