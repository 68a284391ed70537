"""A restricted unpickler: containers and numpy arrays only, never arbitrary code.

``pickle.load`` calls whatever a file names (``os.system`` included). The feature files of
MMSA and MELD hold only dicts, lists, strings, numbers and numpy arrays, so the unpickler
below resolves those few globals and refuses every other one with a clear error.
"""

import io
import pickle
from pathlib import Path

from ..exceptions import UnsafePickleError

__all__ = ["UnsafePickleError", "safe_load_pickle"]

_NUMPY_GLOBALS = {
    "_reconstruct",
    "scalar",
    "_frombuffer",
    "ndarray",
    "dtype",
}
_NUMPY_MODULES = {
    "numpy",
    "numpy.core.multiarray",
    "numpy._core.multiarray",
    "numpy.core.numeric",
    "numpy._core.numeric",
}
_ALLOWED = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "complex"),
    ("builtins", "bytearray"),
    ("collections", "OrderedDict"),
    # Protocol-2 pickles store array bytes as latin-1 text decoded with _codecs.encode.
    ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module in _NUMPY_MODULES and name in _NUMPY_GLOBALS) or (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module.startswith("numpy") and module.endswith("dtypes") and name.endswith("DType"):
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"Refusing to load {module}.{name}: this loader only reads pickles of containers "
            "and numpy arrays, since unpickling anything else can run code from the file."
        )


def safe_load_pickle(path):
    """Load a pickle of containers and numpy arrays without running code from the file.

    Parameters
    ----------
    path : str or Path
        The pickle file.

    Returns
    -------
    obj : object
        The unpickled dicts, lists, strings, numbers and arrays.

    Raises
    ------
    UnsafePickleError
        When the file names a callable or class beyond those (a crafted file, say).
    ValueError
        When the file is truncated or is not a pickle.

    Examples
    --------
    >>> import pickle, tempfile, numpy as np
    >>> with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as f:
    ...     pickle.dump({"a": np.arange(3)}, f)
    >>> safe_load_pickle(f.name)["a"]
    array([0, 1, 2])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    data = path.read_bytes()
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # a damaged stream fails in many ways; report them all alike
        raise ValueError(
            f"{path} is truncated or is not a valid pickle ({type(exc).__name__}: {exc})."
        ) from exc
