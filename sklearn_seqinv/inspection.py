"""Mask stability: is a selection the same across seeds and held-out domains?

A feature mask is worth reporting only if it comes back when the model is refitted with
another seed or without one of the training domains (stochastic gates on noisy data may not
settle). :func:`mask_stability` refits an estimator across both and reports, per modality,
how often each column is selected and the mean pairwise Jaccard overlap of the selections;
:class:`~sklearn_seqinv.plotting.MaskStabilityDisplay` plots it.
"""

from itertools import combinations

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch

from ._validation import check_sample_domain

__all__ = ["mask_stability", "selection_jaccard", "stability_summary"]


def selection_jaccard(supports):
    """Mean pairwise Jaccard overlap of boolean selections (one row per refit).

    Two empty selections agree (overlap 1); with fewer than two refits the overlap is 1.

    Parameters
    ----------
    supports : array-like of shape (n_refits, n_columns)
        The selected columns of each refit.

    Returns
    -------
    jaccard : float
        Mean of ``|A & B| / |A | B|`` over all pairs of refits.

    Examples
    --------
    >>> selection_jaccard([[True, True, False], [True, False, False]])
    0.5
    """
    supports = np.asarray(supports, dtype=bool)
    if supports.ndim != 2:
        raise ValueError(f"supports must be 2-D (refits x columns); got shape {supports.shape}.")
    overlaps = []
    for a, b in combinations(supports, 2):
        union = np.logical_or(a, b).sum()
        overlaps.append(1.0 if union == 0 else np.logical_and(a, b).sum() / union)
    return float(np.mean(overlaps)) if overlaps else 1.0


def stability_summary(supports):
    """Selection frequency per column and mean pairwise Jaccard of several selections.

    Parameters
    ----------
    supports : array-like of shape (n_refits, n_columns)
        Boolean masks, one row per refit (as :func:`selection_jaccard` takes them).

    Returns
    -------
    summary : Bunch
        ``frequency`` (share of refits selecting each column), ``jaccard``, ``n_refits``.

    Examples
    --------
    >>> stability_summary([[True, False], [True, True]]).frequency
    array([1. , 0.5])
    """
    supports = np.asarray(supports, dtype=bool)
    return Bunch(
        frequency=supports.mean(axis=0),
        jaccard=selection_jaccard(supports),
        n_refits=len(supports),
    )


def _check_selects(estimator):
    if not (hasattr(estimator, "get_support") or hasattr(estimator, "modalities")):
        raise TypeError(
            f"{type(estimator).__name__} has no feature selection to inspect: pass a "
            "SequentialModalityClassifier / Regressor or an InvariantMaskSelector."
        )


def _supports_of(estimator):
    """Modality -> selected columns (bool) of a fitted meta-estimator or selector."""
    selection = getattr(estimator, "selection_", None)
    if selection is not None:
        return {name: np.asarray(s.support, dtype=bool) for name, s in selection.items()}
    return {"X": np.asarray(estimator.get_support(), dtype=bool)}


def _with_seed(estimator, seed):
    """A clone whose every ``random_state`` (nested ones included) is ``seed``."""
    est = clone(estimator)
    keys = [k for k in est.get_params(deep=True) if k.split("__")[-1] == "random_state"]
    return est.set_params(**{k: seed for k in keys}) if keys else est


def mask_stability(
    estimator, X, y, *, sample_domain, sample_group=None, seeds=(0, 1, 2), verbose=0
):
    """Refit across seeds and held-out domains; report how stable the selection is.

    For every seed and every domain, ``estimator`` (its ``random_state`` parameters set to
    the seed) is fitted on the other domains, as in leave-one-domain-out; with a single
    domain, on all rows. The selections are then compared per modality.

    Parameters
    ----------
    estimator : estimator
        A :class:`~sklearn_seqinv.SequentialModalityClassifier` /
        :class:`~sklearn_seqinv.SequentialModalityRegressor` or an
        :class:`~sklearn_seqinv.InvariantMaskSelector` (not fitted; it is cloned).
    X : array-like of shape (n_samples, n_features)
        Features (standardized works best).
    y : array-like of shape (n_samples,)
        Labels or scores.
    sample_domain : array-like of shape (n_samples,)
        Domain of each row.
    sample_group : array-like of shape (n_samples,), default=None
        Sub-group of each row, passed on to ``fit``.
    seeds : sequence of int, default=(0, 1, 2)
        Seeds of the refits.
    verbose : int, default=0
        Print a line per refit.

    Returns
    -------
    stability : Bunch
        ``modalities``: modality name -> Bunch of ``frequency`` (share of refits that
        selected each column), ``jaccard`` (mean pairwise overlap of the selections),
        ``supports`` (refits x columns) and ``n_refits``; ``refits``: the (seed, held-out
        domain) of each refit.

    Examples
    --------
    >>> from sklearn_seqinv import InvariantMaskSelector
    >>> from sklearn_seqinv.datasets import make_multimodal_domains
    >>> data = make_multimodal_domains(n_samples=240, modalities={"text": 8}, random_state=0)
    >>> result = mask_stability(InvariantMaskSelector(max_epochs=5), data.X, data.y,
    ...                         sample_domain=data.sample_domain, seeds=[0])
    >>> result.modalities["X"].frequency.shape, len(result.refits)
    ((8,), 3)
    """
    _check_selects(estimator)
    X = np.asarray(X)
    y = np.asarray(y)
    codes, labels = check_sample_domain(sample_domain, X.shape[0])
    if len(seeds) == 0:
        raise ValueError("seeds must list at least one seed.")
    held_out = list(range(len(labels))) if len(labels) > 1 else [None]
    supports, refits = {}, []
    for seed in seeds:
        for code in held_out:
            train = np.ones(len(y), dtype=bool) if code is None else codes != code
            params = {"sample_domain": np.asarray(sample_domain)[train]}
            if sample_group is not None:
                params["sample_group"] = np.asarray(sample_group)[train]
            fitted = _with_seed(estimator, seed).fit(X[train], y[train], **params)
            for name, support in _supports_of(fitted).items():
                supports.setdefault(name, []).append(support)
            refits.append((seed, None if code is None else labels[code]))
            if verbose:
                seed_, domain = refits[-1]
                print(f"[mask_stability] refit {len(refits)}: seed {seed_}, held out {domain}")
    return Bunch(
        modalities=Bunch(
            **{
                name: Bunch(**stability_summary(rows), supports=np.asarray(rows))
                for name, rows in supports.items()
            }
        ),
        refits=refits,
    )
