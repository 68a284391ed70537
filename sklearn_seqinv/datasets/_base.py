"""The Bunch every loader returns, label spaces, and small file helpers."""

import hashlib
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

POLARITY_NAMES = {"negative": 0, "neutral": 1, "positive": 2}


def polarity_of_classes(classes):
    """Has0-style binary polarity of negative / neutral / positive classes (0 / 1 / 2).

    Neutral counts as non-negative, as MMSA's ``score >= 0`` does.

    Examples
    --------
    >>> polarity_of_classes(np.array([0, 1, 2]))
    array([0, 1, 1])
    """
    return (np.asarray(classes) >= POLARITY_NAMES["neutral"]).astype(np.int64)


def modality_bunch(
    blocks, y, *, sample_domain, ids, split, sample_group=None, as_frame=False, **extra
):
    """Assemble the common loader Bunch from per-modality feature blocks.

    ``blocks`` maps modality name -> (n_samples, d) array; ``X`` holds them side by side and
    ``modalities`` maps each name to its column indices of ``X``. ``feature_names`` is an
    array (``<modality>_<j>``), so ``feature_names[modalities[m]]`` names a modality's
    columns; with ``as_frame`` ``X`` is a pandas DataFrame with those column names, as
    scikit-learn's loaders give (the names then flow through a Pipeline to
    ``get_feature_names_out``). ``sample_group`` (the sub-group of each row inside its
    domain: video, episode) is left out when not given.
    """
    names, groups, start = [], {}, 0
    for name, block in blocks.items():
        groups[name] = np.arange(start, start + block.shape[1])
        names += [f"{name}_{j}" for j in range(block.shape[1])]
        start += block.shape[1]
    X = np.hstack(list(blocks.values())) if blocks else np.empty((len(y), 0))
    names = np.asarray(names, dtype=object)
    if as_frame:
        X = frame(X, names)
    return Bunch(
        X=X,
        y=np.asarray(y),
        sample_domain=np.asarray(sample_domain),
        ids=np.asarray(ids, dtype=object),
        split=np.asarray(split, dtype=object),
        modalities=groups,
        feature_names=names,
        **({} if sample_group is None else {"sample_group": np.asarray(sample_group)}),
        **extra,
    )


def frame(X, names):
    """``X`` as a pandas DataFrame with columns ``names`` (the loaders' ``as_frame=True``)."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("as_frame=True needs pandas: pip install pandas.") from exc
    return pd.DataFrame(X, columns=list(names))


def scores_to_labels(scores, target):
    """Map sentiment scores to ``target``: "regression", "polarity" or "polarity3".

    "polarity" is MMSA's Has0 convention (``score >= 0`` is positive, 1); "polarity3" gives
    0 / 1 / 2 for negative / neutral (exactly 0) / positive.

    Examples
    --------
    >>> scores_to_labels(np.array([-1.2, 0.0, 2.4]), "polarity")
    array([0, 1, 1])
    >>> scores_to_labels(np.array([-1.2, 0.0, 2.4]), "polarity3")
    array([0, 1, 2])
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if target == "regression":
        return scores
    if target == "polarity":
        return (scores >= 0).astype(np.int64)
    if target == "polarity3":
        return (np.sign(scores) + 1).astype(np.int64)
    raise ValueError(
        f"Unknown target {target!r}; expected 'regression', 'polarity' or 'polarity3'."
    )


def check_sha256(path, expected):
    """Raise ValueError when the SHA-256 of ``path`` differs from ``expected`` (hex)."""
    if expected is None:
        return
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected.lower():
        raise ValueError(
            f"SHA-256 of {path} is {digest.hexdigest()}, expected {expected}; the file is "
            "corrupt or not the one published."
        )


def existing_file(path, what):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path
