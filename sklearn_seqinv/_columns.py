"""Resolve ColumnTransformer-style column specifications to integer indices."""

import numbers

import numpy as np


def resolve_columns(X, key, n_features, feature_names=None, *, name="columns"):
    """Integer indices of the columns of ``X`` that ``key`` designates.

    ``key`` may be an int, a str (a DataFrame column name), a slice of ints or of names, a
    list or array of ints, names or booleans, or a callable such as
    :func:`sklearn.compose.make_column_selector` that receives ``X`` and returns one of those.

    Examples
    --------
    >>> import numpy as np
    >>> resolve_columns(np.zeros((2, 5)), slice(1, None, 2), 5)
    array([1, 3])
    >>> resolve_columns(None, ["b", "c"], 3, np.array(["a", "b", "c"]))
    array([1, 2])
    """
    if callable(key):
        key = key(X)
    if isinstance(key, slice):
        if isinstance(key.start, str) or isinstance(key.stop, str):
            names = _names(feature_names, key, name)
            start = 0 if key.start is None else _name_index(names, key.start, name)
            stop = n_features if key.stop is None else _name_index(names, key.stop, name) + 1
            return np.arange(n_features)[slice(start, stop, key.step)]
        return np.arange(n_features)[key]
    if isinstance(key, (numbers.Integral, str)):
        key = [key]
    values = np.asarray(key)
    if values.size == 0:
        return np.array([], dtype=np.intp)
    if values.dtype.kind == "b":
        if values.shape != (n_features,):
            raise ValueError(
                f"A boolean mask in {name} must have one entry per column ({n_features}); got "
                f"shape {values.shape}."
            )
        return np.flatnonzero(values)
    if values.dtype.kind in "iu":
        if values.min() < -n_features or values.max() >= n_features:
            raise ValueError(f"Column index out of range in {name}: X has {n_features} feature(s).")
        return np.arange(n_features)[values]
    if values.dtype.kind in "UO":
        names = _names(feature_names, key, name)
        return np.array([_name_index(names, v, name) for v in values], dtype=np.intp)
    raise TypeError(f"Cannot select columns with {preview(key)} in {name}.")


def _names(feature_names, key, name):
    if feature_names is None:
        raise ValueError(
            f"{name} selects columns by name ({preview(key)}), which needs X as a DataFrame "
            "with string column names."
        )
    return list(feature_names)


def preview(key, shown=3):
    """A column key for an error message: a slice as it is, else the first ``shown``
    entries as plain text and the count.

    Examples
    --------
    >>> preview(np.array(["text_0", "text_1", "text_2", "text_3"]))
    "['text_0', 'text_1', 'text_2', ...; 4 in all]"
    >>> preview(["a"])
    "['a']"
    """
    if isinstance(key, slice) or np.ndim(key) == 0:
        return repr(key)
    values = [v.item() if isinstance(v, np.generic) else v for v in key]
    if len(values) <= shown:
        return repr(values)
    head = ", ".join(repr(v) for v in values[:shown])
    return f"[{head}, ...; {len(values)} in all]"


def _name_index(names, label, name):
    try:
        return names.index(label)
    except ValueError:
        raise ValueError(f"Column {label!r} of {name} is not a column of X.") from None
