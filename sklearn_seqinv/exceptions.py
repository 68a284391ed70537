"""The library's exceptions, in one place.

Bad input raises scikit-learn's usual ``ValueError`` / ``TypeError`` with a message that names
what is wrong; the classes here are for the cases a caller may want to catch by type.
"""

import pickle

__all__ = ["CLIError", "TrainingInterrupted", "UnsafePickleError"]


class UnsafePickleError(pickle.UnpicklingError):
    """Raised when a pickle names anything beyond containers and numpy arrays.

    The restricted unpickler of the loaders raises it instead of running code named in a
    crafted file.
    """


class TrainingInterrupted(Exception):
    """Carries a ``KeyboardInterrupt`` out of skorch's training loop, which would swallow it.

    ``fit`` turns it back into ``KeyboardInterrupt`` after restoring the estimator's state.
    """


class CLIError(Exception):
    """A user error on the command line: printed as one line, exit status 2."""
