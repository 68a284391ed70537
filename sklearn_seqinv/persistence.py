"""Save and load fitted estimators without unpickling: torch weights-only files.

``pickle`` (and ``joblib``) run code named in the file when loading, so a model file from
someone else is a program. :func:`save` writes parameters, fitted arrays and the torch
weights as plain containers, strings, numbers and tensors; :func:`load` reads them back with
``torch.load(weights_only=True)``, which refuses anything else.

What is kept: every parameter that is a plain value (estimator parameters that are objects,
such as skorch ``callbacks`` or an optimizer class, cannot be saved this way: use pickle for
those), the fitted gates, heads and attributes. Column selections given as callables are
stored as the column indices they resolved to at fit time. The training history is kept as
per-epoch numbers. ``final_estimator`` must be ``None`` (the last stage's head).
"""

import json

import numpy as np
import torch
from sklearn.utils import Bunch

from . import __version__
from ._selector import InvariantMaskSelector
from ._sequential import SequentialModalityClassifier, SequentialModalityRegressor

__all__ = ["load", "save"]

_FORMAT = "sklearn_seqinv.persistence/1"
_META = {
    "SequentialModalityClassifier": SequentialModalityClassifier,
    "SequentialModalityRegressor": SequentialModalityRegressor,
}
_PLAIN = (type(None), bool, int, float, str)


def _plain(name, value):
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, _PLAIN) for v in value):
        return list(value)
    raise TypeError(
        f"Parameter {name}={value!r} is not a plain value, so it cannot be saved without "
        "pickle; use pickle or joblib for this estimator, or set the parameter to a plain value."
    )


def _array(values):
    values = np.asarray(values)
    if values.dtype.kind in "OU":
        return {"strings": [str(v) for v in values]}
    return {"tensor": torch.from_numpy(np.ascontiguousarray(values))}


def _unarray(packed):
    if "strings" in packed:
        return np.asarray(packed["strings"], dtype=object)
    return packed["tensor"].numpy()


def _selector_node(est):
    params = {k: _plain(k, v) for k, v in est.get_params(deep=False).items()}
    node = {"class": "InvariantMaskSelector", "params": params}
    if not hasattr(est, "net_"):
        return node
    module = est.net_.module_
    node["fitted"] = {
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "n_outputs": int(module.head_outputs),
        "gates_": _array(est.gates_),
        "support_": _array(est.support_),
        "alpha_": _plain("alpha_", getattr(est, "alpha_", None)),
        "selection_kept_": getattr(est, "selection_kept_", None),
        "heterogeneity_pvalues_": (
            _array(est.heterogeneity_pvalues_) if hasattr(est, "heterogeneity_pvalues_") else None
        ),
        "domains_": _array(est.domains_),
        "n_environments_": int(est.n_environments_),
        "n_features_in_": int(est.n_features_in_),
        "n_guidance_features_": int(est.n_guidance_features_),
        "task_": est.task_,
        "classes_": _array(est.classes_) if hasattr(est, "classes_") else None,
        "y_ndim": getattr(est, "_y_ndim", None),
        "feature_names_in_": (
            _array(est.feature_names_in_) if hasattr(est, "feature_names_in_") else None
        ),
        "history": json.dumps(est.history_.to_list(), default=float),
    }
    return node


def _load_selector(node):
    est = InvariantMaskSelector(**node["params"])
    fitted = node.get("fitted")
    if fitted is None:
        return est
    est.gates_ = _unarray(fitted["gates_"]).astype(np.float64)
    est.support_ = _unarray(fitted["support_"]).astype(bool)
    for name in ("alpha_", "selection_kept_"):
        if fitted[name] is not None:
            setattr(est, name, fitted[name])
    if fitted["heterogeneity_pvalues_"] is not None:
        est.heterogeneity_pvalues_ = _unarray(fitted["heterogeneity_pvalues_"])
    est.domains_ = _unarray(fitted["domains_"])
    est.n_environments_ = fitted.get("n_environments_", len(est.domains_))
    est.n_features_in_ = fitted["n_features_in_"]
    est.n_guidance_features_ = fitted["n_guidance_features_"]
    est.task_ = fitted["task_"]
    if fitted["classes_"] is not None:
        est.classes_ = _unarray(fitted["classes_"])
    if fitted["y_ndim"] is not None:
        est._y_ndim = fitted["y_ndim"]
    if fitted["feature_names_in_"] is not None:
        est.feature_names_in_ = _unarray(fitted["feature_names_in_"])
    device = torch.device("cpu")
    est.device = "cpu"
    est.net_ = est._make_net(est.n_features_in_, fitted["n_outputs"], device, None, 0.0)
    est.net_.initialize()
    est.net_.module_.to(next(iter(fitted["state_dict"].values())).dtype)
    est.net_.module_.load_state_dict(fitted["state_dict"])
    for row in json.loads(fitted["history"]):
        est.net_.history.append(row)
    est.history_ = est.net_.history
    return est


def _columns(name, columns):
    if isinstance(columns, slice):
        return {"slice": [columns.start, columns.stop, columns.step]}
    if callable(columns):
        raise TypeError(f"Modality {name!r} selects columns with a callable; fit first.")
    return {"list": _plain(f"{name} columns", np.asarray(columns).tolist())}


def _uncolumns(packed):
    return slice(*packed["slice"]) if "slice" in packed else packed["list"]


def _meta_node(est):
    if est.final_estimator is not None:
        raise TypeError("Only final_estimator=None can be saved without pickle.")
    fitted = hasattr(est, "modalities_")
    modalities = []
    for i, (name, selector, columns) in enumerate(est.modalities):
        if fitted and callable(columns):
            columns = est.modalities_[i][2]
        modalities.append(
            {"name": name, "selector": _selector_node(selector), "columns": _columns(name, columns)}
        )
    node = {
        "class": type(est).__name__,
        "modalities": modalities,
        "params": {"strategy": est.strategy, "verbose": _plain("verbose", est.verbose)},
    }
    if fitted:
        node["fitted"] = {
            "modalities_": [
                {"name": n, "selector": _selector_node(s), "columns": _array(c)}
                for n, s, c in est.modalities_
            ],
            "joint_selector_": (
                _selector_node(est.joint_selector_) if hasattr(est, "joint_selector_") else None
            ),
            "final_estimator_": (
                _selector_node(est.final_estimator_) if est.final_estimator_ is not None else None
            ),
            "n_features_in_": int(est.n_features_in_),
            "strategy_": est.strategy_,
            "classes_": _array(est.classes_) if hasattr(est, "classes_") else None,
            "feature_names_in_": (
                _array(est.feature_names_in_) if hasattr(est, "feature_names_in_") else None
            ),
        }
    return node


def _load_meta(node):
    cls = _META[node["class"]]
    modalities = [
        (m["name"], _load_selector(m["selector"]), _uncolumns(m["columns"]))
        for m in node["modalities"]
    ]
    est = cls(modalities, **node["params"])
    fitted = node.get("fitted")
    if fitted is None:
        return est
    if fitted["joint_selector_"] is not None:
        est.joint_selector_ = _load_selector(fitted["joint_selector_"])
    shared = getattr(est, "joint_selector_", None)
    est.modalities_ = [
        (m["name"], shared or _load_selector(m["selector"]), _unarray(m["columns"]).astype(np.intp))
        for m in fitted["modalities_"]
    ]
    est.named_modalities_ = Bunch(**{n: s for n, s, _ in est.modalities_})
    final = fitted["final_estimator_"]
    est.final_estimator_ = _load_selector(final) if final is not None else None
    est.n_features_in_ = fitted["n_features_in_"]
    est.strategy_ = fitted["strategy_"]
    if fitted["classes_"] is not None:
        est.classes_ = _unarray(fitted["classes_"])
    if fitted["feature_names_in_"] is not None:
        est.feature_names_in_ = _unarray(fitted["feature_names_in_"])
    return est


def save(estimator, path):
    """Save an estimator of this library to ``path`` without pickle.

    Parameters
    ----------
    estimator : InvariantMaskSelector, SequentialModalityClassifier or SequentialModalityRegressor
        Fitted or not.
    path : str or Path
        Destination file (conventionally ``.pt``); written as a whole or not at all.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_seqinv import InvariantMaskSelector
    >>> from sklearn_seqinv.persistence import load, save
    >>> path = os.path.join(tempfile.mkdtemp(), "selector.pt")
    >>> save(InvariantMaskSelector(sparsity=2.0), path)
    >>> load(path).sparsity
    2.0
    """
    if isinstance(estimator, InvariantMaskSelector):
        root = _selector_node(estimator)
    elif isinstance(estimator, tuple(_META.values())):
        root = _meta_node(estimator)
    else:
        raise TypeError(f"save handles this library's estimators; got {type(estimator).__name__}.")
    torch.save({"format": _FORMAT, "version": __version__, "root": root}, str(path))


def load(path):
    """Load an estimator saved by :func:`save`; refuses files that hold anything but data.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save`.

    Returns
    -------
    estimator : the saved estimator, on the CPU
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
    root = content["root"]
    if root["class"] == "InvariantMaskSelector":
        return _load_selector(root)
    return _load_meta(root)
