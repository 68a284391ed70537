"""Save and load fitted models without unpickling: torch weights-only files.

``pickle`` (and ``joblib``) run code named in the file when loading, so a model file from
someone else is a program. :func:`save` writes an estimator's state as plain containers,
strings, numbers and tensors; :func:`load` reads them back with
``torch.load(weights_only=True)``, which refuses anything else, and rebuilds only classes
from a list of trusted types (:data:`TRUSTED_TYPES`: this library's estimators and
scikit-learn's standard transformers, linear models, ``Pipeline`` and ``ColumnTransformer``),
as skops does.

What is saved is what each estimator declares as its state for pickling
(``__getstate__``, restored by ``__setstate__``): every attribute, parameters and fitted
state alike, with :class:`~sklearn_seqinv.InvariantMaskSelector`'s skorch net as its weights
and history. So nothing a fitted model needs can be left out. Values that are neither plain
data nor a trusted estimator (callables, skorch callbacks, optimizer classes) cannot be saved
this way: :func:`save` names them; use pickle for such models.
"""

import numpy as np
import torch
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
)
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    LabelEncoder,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    OneHotEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils import Bunch
from sklearn.utils._metadata_requests import SIMPLE_METHODS, MetadataRequest

from . import __version__
from .contextual._gru import ContextGRUClassifier, ContextGRURegressor
from .meta._sequential import SequentialModalityClassifier, SequentialModalityRegressor
from .preprocessing._centering import DomainCenterer
from .preprocessing._context import GroupContext
from .selection._selector import InvariantMaskSelector
from .selection._tie_filter import TieInvarianceFilter

__all__ = ["TRUSTED_TYPES", "load", "save"]

_FORMAT = "sklearn_seqinv.persistence/2"

#: The classes :func:`save` writes and :func:`load` rebuilds; anything else is refused.
TRUSTED_TYPES = (
    ContextGRUClassifier,
    ContextGRURegressor,
    DomainCenterer,
    GroupContext,
    InvariantMaskSelector,
    SequentialModalityClassifier,
    SequentialModalityRegressor,
    TieInvarianceFilter,
    Pipeline,
    FeatureUnion,
    ColumnTransformer,
    StandardScaler,
    MinMaxScaler,
    MaxAbsScaler,
    RobustScaler,
    Normalizer,
    OneHotEncoder,
    LabelEncoder,
    SimpleImputer,
    PCA,
    VarianceThreshold,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    LinearRegression,
)
_BY_NAME = {
    f"{cls.__module__}:{cls.__qualname__}": cls for cls in (*TRUSTED_TYPES, FunctionTransformer)
}
# Files written before the estimators moved into their subpackages name the old modules.
_BY_NAME.update(
    {
        f"sklearn_seqinv.{module}:{cls.__qualname__}": cls
        for module, cls in [
            ("_centering", DomainCenterer),
            ("_context", GroupContext),
            ("_selector", InvariantMaskSelector),
            ("_sequential", SequentialModalityClassifier),
            ("_sequential", SequentialModalityRegressor),
            ("_tie_filter", TieInvarianceFilter),
        ]
    }
)
_PLAIN = (type(None), bool, int, float, str)


def _identity_function(value):
    """A FunctionTransformer without functions (ColumnTransformer's "passthrough") is data."""
    return type(value) is FunctionTransformer and value.func is None and value.inverse_func is None


class _Encoder:
    """Turns a state into torch-weights-only data; shared objects are written once."""

    def __init__(self):
        self.objects = {}

    def __call__(self, value, where):
        if isinstance(value, np.generic):  # numpy scalars, np.str_ included
            value = value.item()
        for plain in _PLAIN:  # exact built-in types (str subclasses would pickle as classes)
            if isinstance(value, plain):
                return value if value is None else plain(value)
        if isinstance(value, torch.Tensor):
            return {"tensor": value.detach().cpu()}
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, np.dtype):
            return {"dtype": value.str}
        if isinstance(value, slice):
            return {"slice": [self(v, where) for v in (value.start, value.stop, value.step)]}
        if isinstance(value, Bunch):
            return {"bunch": self._mapping(value, where)}
        if isinstance(value, dict):
            return {"dict": self._mapping(value, where)}
        if isinstance(value, (list, tuple)):
            kind = "list" if isinstance(value, list) else "tuple"
            return {kind: [self(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if type(value) in TRUSTED_TYPES or _identity_function(value):
            return self._object(value, where)
        if isinstance(value, MetadataRequest):
            # What set_fit_request and its kin asked for: plain data per method.
            return {"metadata_request": self._metadata_request(value, where)}
        raise TypeError(
            f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which cannot be "
            "saved without pickle (only plain data and the estimators in "
            "sklearn_seqinv.persistence.TRUSTED_TYPES can). Use pickle or joblib for this model, "
            "or replace that value."
        )

    def _metadata_request(self, request, where):
        out = {"owner": self(request.owner, where)}
        for method in SIMPLE_METHODS:
            asked = getattr(request, method).requests
            out[method] = self._mapping(asked, f"{where}.{method}")
        return out

    def _mapping(self, mapping, where):
        out = {}
        for key, value in mapping.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a non-string key {key!r}; it cannot be saved.")
            out[key] = self(value, f"{where}.{key}")
        return out

    def _array(self, array, where):
        if array.dtype.kind in "bif":
            return {"ndarray": torch.from_numpy(np.ascontiguousarray(array))}
        if array.dtype.kind in "uU":
            values = [self(v, where) for v in array.ravel().tolist()]
            return {"array": values, "dtype": array.dtype.str, "shape": list(array.shape)}
        if array.dtype.kind == "O":
            items = [self(v, f"{where}[...]") for v in array.ravel().tolist()]
            return {"array": items, "dtype": "O", "shape": list(array.shape)}
        raise TypeError(f"{where} is an array of dtype {array.dtype}, which cannot be saved.")

    def _object(self, obj, where):
        key = id(obj)
        if key in self.objects:
            return {"ref": self.objects[key][0]}
        index = len(self.objects)
        self.objects[key] = (index, obj)  # keeps obj alive, so its id is not reused
        cls = type(obj)
        state = obj.__getstate__()
        return {
            "object": f"{cls.__module__}:{cls.__qualname__}",
            "id": index,
            "state": self._mapping(state, where),
        }


class _Decoder:
    def __init__(self):
        self.objects = {}

    def __call__(self, node):
        if isinstance(node, _PLAIN):
            return node
        if not (isinstance(node, dict) and len(node) >= 1):
            raise ValueError(f"unexpected entry {type(node).__name__} in the saved state")
        if "tensor" in node:
            return node["tensor"]
        if "ndarray" in node:
            return node["ndarray"].numpy().copy()
        if "array" in node:
            values = [self(v) for v in node["array"]]
            out = np.empty(len(values), dtype=object) if node["dtype"] == "O" else None
            if out is None:
                return np.asarray(values, dtype=node["dtype"]).reshape(node["shape"])
            out[:] = values
            return out.reshape(node["shape"])
        if "dtype" in node:
            return np.dtype(node["dtype"])
        if "slice" in node:
            return slice(*(self(v) for v in node["slice"]))
        if "bunch" in node:
            return Bunch(**{k: self(v) for k, v in node["bunch"].items()})
        if "dict" in node:
            return {k: self(v) for k, v in node["dict"].items()}
        if "list" in node:
            return [self(v) for v in node["list"]]
        if "tuple" in node:
            return tuple(self(v) for v in node["tuple"])
        if "ref" in node:
            return self.objects[node["ref"]]
        if "metadata_request" in node:
            saved = node["metadata_request"]
            request = MetadataRequest(owner=self(saved["owner"]))
            for method in SIMPLE_METHODS:
                for param, alias in saved.get(method, {}).items():
                    alias = self(alias)
                    if not (alias is None or isinstance(alias, (bool, str))):
                        raise ValueError(f"a metadata request of {param!r} is not plain data")
                    getattr(request, method).add_request(param=param, alias=alias)
            return request
        if "object" in node:
            cls = _BY_NAME.get(node["object"])
            if cls is None:
                raise ValueError(
                    f"the file names {node['object']}, which is not a trusted type; "
                    "load refuses to build it"
                )
            obj = cls.__new__(cls)
            self.objects[node["id"]] = obj
            obj.__setstate__({k: self(v) for k, v in node["state"].items()})
            if cls is FunctionTransformer and not _identity_function(obj):
                raise ValueError("the file holds a FunctionTransformer with a function")
            return obj
        raise ValueError(f"unexpected entry with keys {sorted(node)} in the saved state")


def save(estimator, path):
    """Save a model of this library, or a Pipeline of it, to ``path`` without pickle.

    Parameters
    ----------
    estimator : estimator
        An instance of one of :data:`TRUSTED_TYPES` (this library's estimators, scikit-learn's
        standard transformers and linear models, ``Pipeline``, ``ColumnTransformer``), fitted
        or not, whose parameters and fitted attributes are plain data or such estimators.
    path : str or Path
        Destination file (conventionally ``.pt``).

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_seqinv import InvariantMaskSelector
    >>> from sklearn_seqinv.persistence import load, save
    >>> path = os.path.join(tempfile.mkdtemp(), "pipe.pt")
    >>> save(make_pipeline(StandardScaler(), InvariantMaskSelector(sparsity=2.0)), path)
    >>> load(path)[-1].sparsity
    2.0
    """
    if type(estimator) not in TRUSTED_TYPES:
        raise TypeError(
            f"save takes this library's estimators, scikit-learn's standard transformers and "
            f"linear models, and Pipelines / ColumnTransformers of them; got "
            f"{type(estimator).__name__}. Use pickle or joblib for other models."
        )
    root = _Encoder()(estimator, type(estimator).__name__)
    torch.save({"format": _FORMAT, "version": __version__, "root": root}, str(path))


def load(path):
    """Load a model saved by :func:`save`; refuses files that hold anything but data.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save`.

    Returns
    -------
    estimator : the saved model, on the CPU
    """
    try:
        content = torch.load(str(path), weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(
            f"{path} is not a file written by sklearn_seqinv.persistence.save, or it is "
            f"corrupt or unsafe ({type(exc).__name__})."
        ) from exc
    if not isinstance(content, dict) or content.get("format") != _FORMAT:
        raise ValueError(f"{path} was not written by sklearn_seqinv.persistence.save.")
    try:
        return _Decoder()(content["root"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} holds a damaged or refused model: {exc}") from exc
