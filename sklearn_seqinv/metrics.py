"""MSA metrics (the MMSA set), scorers, and mean / worst-domain reports."""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, make_scorer, mean_absolute_error
from sklearn.model_selection import cross_validate
from sklearn.utils import Bunch
from sklearn.utils.metadata_routing import _routing_enabled
from sklearn.utils.validation import check_consistent_length, column_or_1d, has_fit_parameter

from .evaluation._markdown import markdown_table

__all__ = [
    "METRIC_LABELS",
    "corr",
    "cross_validate_domains",
    "format_domain_report",
    "has0_acc2",
    "has0_f1",
    "mae",
    "msa_scorers",
    "msa_scores",
    "mult_acc5",
    "mult_acc7",
    "non0_acc2",
    "non0_f1",
]


#: What each metric name of the reports means, spelled out (axis labels and legends).
METRIC_LABELS = {
    "accuracy": "accuracy",
    "f1_weighted": "F1 (weighted over classes)",
    "has0_acc2": "accuracy, 2 classes (score >= 0 positive)",
    "has0_f1": "F1, 2 classes (score >= 0 positive)",
    "non0_acc2": "accuracy, 2 classes (true scores of 0 left out)",
    "non0_f1": "F1, 2 classes (true scores of 0 left out)",
    "mult_acc5": "accuracy, 5 classes (score clipped to [-2, 2], rounded)",
    "mult_acc7": "accuracy, 7 classes (score clipped to [-3, 3], rounded)",
    "mae": "mean absolute error (lower is better)",
    "corr": "Pearson correlation",
}


def _scores(y_true, y_pred):
    y_true = column_or_1d(y_true).astype(np.float64)
    y_pred = column_or_1d(y_pred).astype(np.float64)
    check_consistent_length(y_true, y_pred)
    if not (np.isfinite(y_true).all() and np.isfinite(y_pred).all()):
        raise ValueError("Sentiment scores must be finite.")
    return y_true, y_pred


def has0_acc2(y_true, y_pred):
    """Binary accuracy with ``score >= 0`` positive (MMSA's Has0_acc_2).

    Examples
    --------
    >>> has0_acc2([-1.0, 0.0, 2.0], [-0.5, 0.3, -0.1])
    0.666...
    """
    y_true, y_pred = _scores(y_true, y_pred)
    return accuracy_score(y_true >= 0, y_pred >= 0)


def has0_f1(y_true, y_pred):
    """Weighted F1 with ``score >= 0`` positive (MMSA's Has0_F1_score)."""
    y_true, y_pred = _scores(y_true, y_pred)
    return f1_score(y_true >= 0, y_pred >= 0, average="weighted")


def _non_zero(y_true, y_pred):
    y_true, y_pred = _scores(y_true, y_pred)
    keep = y_true != 0
    if not keep.any():
        raise ValueError("Every true score is 0; Non0 metrics need non-zero scores.")
    return y_true[keep] > 0, y_pred[keep] > 0


def non0_acc2(y_true, y_pred):
    """Binary accuracy over samples with a non-zero true score (MMSA's Non0_acc_2).

    Examples
    --------
    >>> non0_acc2([-1.0, 0.0, 2.0], [-0.5, 0.3, -0.1])
    0.5
    """
    return accuracy_score(*_non_zero(y_true, y_pred))


def non0_f1(y_true, y_pred):
    """Weighted F1 over samples with a non-zero true score (MMSA's Non0_F1_score)."""
    return f1_score(*_non_zero(y_true, y_pred), average="weighted")


def _mult_acc(y_true, y_pred, bound):
    y_true, y_pred = _scores(y_true, y_pred)
    return accuracy_score(
        np.round(np.clip(y_true, -bound, bound)), np.round(np.clip(y_pred, -bound, bound))
    )


def mult_acc5(y_true, y_pred):
    """5-class accuracy of scores clipped to ``[-2, 2]`` and rounded (MMSA's Mult_acc_5).

    Examples
    --------
    >>> mult_acc5([-2.6, 0.4, 1.6], [-2.0, 0.0, 1.2])
    0.666...
    """
    return _mult_acc(y_true, y_pred, 2.0)


def mult_acc7(y_true, y_pred):
    """7-class accuracy of scores clipped to ``[-3, 3]`` and rounded (MMSA's Mult_acc_7)."""
    return _mult_acc(y_true, y_pred, 3.0)


def mae(y_true, y_pred):
    """Mean absolute error."""
    return mean_absolute_error(*_scores(y_true, y_pred))


def corr(y_true, y_pred):
    """Pearson correlation; 0.0 when either side is constant (it is undefined there).

    Examples
    --------
    >>> round(corr([1.0, 2.0, 3.0], [2.0, 4.0, 7.0]), 4)
    0.9934
    """
    y_true, y_pred = _scores(y_true, y_pred)
    if y_true.std() == 0 or y_pred.std() == 0:
        return 0.0
    return float(np.corrcoef(y_true, y_pred)[0, 1])


_METRICS = {
    "has0_acc2": (has0_acc2, True),
    "has0_f1": (has0_f1, True),
    "non0_acc2": (non0_acc2, True),
    "non0_f1": (non0_f1, True),
    "mult_acc5": (mult_acc5, True),
    "mult_acc7": (mult_acc7, True),
    "mae": (mae, False),
    "corr": (corr, True),
}


def msa_scores(y_true, y_pred):
    """All MMSA metrics of scores in ``[-3, 3]`` as a dict.

    Returns
    -------
    scores : dict
        Keys ``has0_acc2, has0_f1, non0_acc2, non0_f1, mult_acc5, mult_acc7, mae, corr``.

    Examples
    --------
    >>> sorted(msa_scores([-1.0, 0.5, 2.0], [-0.8, 0.1, 1.5]))[:3]
    ['corr', 'has0_acc2', 'has0_f1']
    """
    return {name: float(fn(y_true, y_pred)) for name, (fn, _) in _METRICS.items()}


def msa_scorers():
    """The MMSA metrics as scorers for GridSearchCV / cross_validate (``mae`` is negated).

    Examples
    --------
    >>> sorted(msa_scorers())[:2]
    ['corr', 'has0_acc2']
    """
    return {
        name: make_scorer(fn, greater_is_better=greater) for name, (fn, greater) in _METRICS.items()
    }


def cross_validate_domains(
    estimator, X, y, *, sample_domain, cv=None, scoring=None, params=None, n_jobs=None
):
    """Cross-validate by domain and report each held-out domain, the mean and the worst.

    Parameters
    ----------
    estimator : estimator
        Anything scikit-learn can cross-validate.
    X, y : array-like
        Data and targets.
    sample_domain : array-like of shape (n_samples,)
        Domain label of each row: the groups of ``cv``, and passed to ``fit`` when metadata
        routing is on or the estimator's ``fit`` takes ``sample_domain``.
    cv : splitter or None, default=None
        Defaults to :class:`~sklearn_seqinv.model_selection.LeaveOneDomainOut`.
    scoring : str, callable, dict or None, default=None
        As in :func:`~sklearn.model_selection.cross_validate`; scorers are "higher is better".
    params : dict or None, default=None
        Extra fit parameters (e.g. ``step__sample_domain`` for a Pipeline without routing).
    n_jobs : int or None, default=None
        Parallel folds (joblib; a Dask backend spreads them over a cluster).

    Returns
    -------
    report : Bunch
        ``per_fold`` (list of dicts with the held-out ``domains`` and each score), ``mean`` and
        ``worst`` (dicts of score name -> value).
    """
    from .model_selection import LeaveOneDomainOut

    cv = LeaveOneDomainOut() if cv is None else cv
    domain = np.asarray(sample_domain)
    params = dict(params or {})
    if _routing_enabled() or has_fit_parameter(estimator, "sample_domain"):
        params.setdefault("sample_domain", domain)
    if _routing_enabled():
        params.setdefault("groups", domain)
        result = cross_validate(
            estimator, X, y, cv=cv, scoring=scoring, params=params, n_jobs=n_jobs
        )
    else:
        result = cross_validate(
            estimator, X, y, groups=domain, cv=cv, scoring=scoring, params=params, n_jobs=n_jobs
        )
    names = [k[len("test_") :] for k in result if k.startswith("test_")]
    folds = []
    for i, (_, test) in enumerate(cv.split(X, y, groups=domain)):
        held = sorted({str(d) for d in domain[test]})
        folds.append({"domains": held, **{n: float(result[f"test_{n}"][i]) for n in names}})
    mean = {n: float(np.mean(result[f"test_{n}"])) for n in names}
    worst = {n: float(np.min(result[f"test_{n}"])) for n in names}
    return Bunch(per_fold=folds, mean=mean, worst=worst)


def format_domain_report(report):
    """A Markdown table of a :func:`cross_validate_domains` report."""
    names = list(report.mean)
    rows = [[", ".join(fold["domains"]), *(fold[n] for n in names)] for fold in report.per_fold]
    rows += [[f"**{label}**", *(report[label][n] for n in names)] for label in ("mean", "worst")]
    return markdown_table(["held-out domain", *names], rows)
