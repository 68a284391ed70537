"""Test-time corruptions of a modality: a user's own shift, scored beside the clean rows."""

import numpy as np

__all__ = ["CORRUPTIONS", "check_corruptions", "corrupt_rows"]

#: Test-time shifts of ``corruptions``.
CORRUPTIONS = ("noise", "zero", "missing")


def check_corruptions(corruptions, modalities):
    """``corruptions`` as a tuple of ``(modality, kind)``, each checked."""
    checked = []
    for entry in corruptions or ():
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise ValueError(
                f"corruptions takes (modality, kind) pairs such as ('video', 'noise'); got "
                f"{entry!r}."
            )
        modality, kind = entry
        if modality not in modalities:
            raise ValueError(
                f"corruptions: unknown modality {modality!r}; the modalities are "
                f"{list(modalities)}."
            )
        if kind not in CORRUPTIONS:
            raise ValueError(
                f"corruptions: unknown kind {kind!r} for {modality!r}; choose from "
                f"{list(CORRUPTIONS)}."
            )
        checked.append((str(modality), str(kind)))
    return tuple(checked)


def _handles_missing(fitted, columns):
    """Whether ``fitted`` predicts rows whose ``columns`` are NaN (a missing modality)."""
    # The sequential strategy without a final estimator predicts a row that lacks a later
    # modality (all NaN) from the stages before; its first modality cannot be missing.
    stages = getattr(fitted, "modalities_", None)
    if not stages or getattr(fitted, "strategy", None) != "sequential":
        return False
    return fitted.final_estimator is None and not np.isin(stages[0][2], columns).any()


def corrupt_rows(X, fitted, train, test, columns, kind, seed):
    """The test rows of ``X`` with ``columns`` corrupted, and whether NaN was imputed."""
    rows = X[test].astype(np.float64, copy=True)
    fitted_on = X[np.ix_(train, columns)]
    mean = fitted_on.mean(axis=0)
    if kind == "noise":
        scale = fitted_on.std(axis=0)
        rng = np.random.default_rng(seed)
        rows[:, columns] = mean + scale * rng.standard_normal((len(rows), len(columns)))
        return rows, None
    if kind == "zero":
        rows[:, columns] = 0.0
        return rows, None
    if _handles_missing(fitted, columns):
        rows[:, columns] = np.nan
        return rows, False
    rows[:, columns] = mean
    return rows, True
