"""One fit of the protocol: a method fitted on a split's training rows, chosen and validated on
its training domains only, and scored on every target domain (clean and corrupted)."""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning, UndefinedMetricWarning
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import has_fit_parameter

from ..metrics import msa_scores
from ..model_selection import LeaveOneDomainOut, TrainingDomainHoldout
from ._aggregate import fit_facts
from ._runlog import json_ready
from ._shifts import corrupt_rows

__all__ = ["fit_unit", "fit_validated", "unit_key", "with_context"]


def unit_key(protocol, sources, name):
    """The identity of one fit: protocol, training domains, method."""
    return [protocol, [str(s) for s in sources], name]


def fit_validated(estimator, grid, X, y, domain, random_state, group=None):
    """Fit ``estimator`` on the training rows, choosing from ``grid`` on the training
    domains only; returns the refitted model, the chosen parameters and its validation
    scores (the estimator's own ``score``: accuracy or R²).

    With two training domains or more, the search itself is leave-one-training-domain-out
    (DomainBed's leave-one-domain-out model selection): each candidate is fitted without
    each training domain in turn and scored on it, the candidate with the highest mean is
    refitted on every training row, and its scores on the held-out domains are the fit's
    validation, ``{"rows": None, "n_rows": None, "domains": [...]}`` (``None`` for a domain
    on which its fit failed or its score is undefined, as when the other domains hold a
    single class). Nothing is refitted to validate the choice: the recommendation compares
    the methods on the very scores that chose their candidates. With one training domain,
    nothing can be held out but rows (:class:`~sklearn_seqinv.model_selection.
    TrainingDomainHoldout`): ``{"rows": score, "n_rows": ..., "domains": None}``. Methods
    without a grid are validated the same way, so the recommendation can compare every
    method; no score ever sees a target domain.
    """
    metadata = {"sample_domain": domain, "sample_group": group}
    params = {
        key: value
        for key, value in metadata.items()
        if value is not None and has_fit_parameter(estimator, key)
    }
    by_domain = len(np.unique(domain)) > 1
    cv = LeaveOneDomainOut() if by_domain else TrainingDomainHoldout(random_state=random_state)
    search = GridSearchCV(
        clone(estimator),
        grid or {},
        cv=cv,
        # A fit without one training domain can fail where the full fit does not (the
        # others hold a single class): that domain then has no score, not the run.
        error_score=np.nan if by_domain else "raise",
        refit=_highest_mean_score,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
        search.fit(X, y, groups=domain, **params)
    chosen = dict(search.best_params_) if grid is not None else None
    results, best = search.cv_results_, search.best_index_
    scores = [float(results[f"split{i}_test_score"][best]) for i in range(search.n_splits_)]
    if by_domain:
        domains = [v if np.isfinite(v) else None for v in scores]
        validation = {"rows": None, "n_rows": None, "domains": domains}
    else:
        n_rows = len(next(cv.split(X, sample_domain=domain))[1])
        validation = {"rows": scores[0], "n_rows": n_rows, "domains": None}
    return search.best_estimator_, chosen, validation


def _highest_mean_score(cv_results):
    """The candidate with the highest mean score over the folds it could be scored on
    (the first of equals, as scikit-learn's ranking); a fold where every candidate failed
    does not count against any of them."""
    scores = np.column_stack(
        [v for k, v in sorted(cv_results.items()) if k.startswith("split") and "_test_" in k]
    )
    finite = np.isfinite(scores)
    counted = finite.any(axis=0)  # the folds at least one candidate could be scored on
    if not counted.any():
        raise ValueError(
            "No candidate could be scored on any held-out training domain: every fit "
            "without a training domain failed. Each training domain's complement must hold "
            "every class."
        )
    scores = scores[:, counted]
    # A candidate that failed on a fold others were scored on ranks below them there.
    means = np.where(np.isfinite(scores), scores, -np.inf).mean(axis=1)
    return int(np.argmax(means))


def _scores(task, y_true, y_pred):
    if task == "classification":
        return {
            "accuracy": accuracy_score(y_true, y_pred),
            "f1_weighted": f1_score(y_true, y_pred, average="weighted"),
        }
    if np.all(y_true == 0):
        return {"mae": float(np.mean(np.abs(y_true - y_pred)))}
    return msa_scores(y_true, y_pred)


def fit_unit(
    method,
    X,
    y,
    domain,
    group,
    train,
    test,
    targets,
    task,
    random_state,
    key,
    corruptions=(),
    modalities=None,
    standardize=False,
    context=None,
):
    """Fit one method on the training rows and score it on every target domain of the test
    rows, clean and under each corruption (every column standardized on the training rows
    first when ``standardize``).

    ``context`` is ``(transformer, group, order)``: a :class:`~sklearn_seqinv.GroupContext`
    to fit on the training rows and apply to the training and the test rows apart (a
    context never reads across them), with each row's group and order; ``modalities`` are
    then those of its output, and a corrupted modality's context is corrupted with it.

    Returns a JSON-ready dict: the records, the chosen parameters, the validation scores,
    the facts of the fitted estimator (:func:`~sklearn_seqinv.evaluation._aggregate.fit_facts`), and
    the gates and modality trust of a fitted meta-estimator.
    """
    estimator, grid = method
    if context is not None:
        X = with_context(X, train, test, *context)
    if standardize:
        X = StandardScaler().fit(X[train]).transform(X)
    group = None if group is None else group[train]
    if group is None and len(np.unique(domain[train])) == 1:
        grid = _one_environment(grid)
    fitted, params, validation = fit_validated(
        estimator, grid, X[train], y[train], domain[train], random_state, group
    )
    protocol, sources, name = key
    records = []
    shifts = [(None, X[test], None)]
    for i, (modality, kind) in enumerate(corruptions):
        columns = np.concatenate([modalities[modality], modalities.get(f"{modality}_context", [])])
        rows, imputed = corrupt_rows(
            X, fitted, train, test, columns.astype(int), kind, [random_state, i]
        )
        shifts.append((f"{modality}:{kind}", rows, imputed))
    test_domain, test_y = domain[test], y[test]
    for corruption, rows, imputed in shifts:
        predicted = fitted.predict(rows)
        if corruption is None:
            clean = predicted
        for target in targets:
            at = test_domain == target
            scores = _scores(task, test_y[at], predicted[at])
            records.append(
                {
                    "protocol": protocol,
                    "method": name,
                    "sources": sources,
                    "target": str(target),
                    **({} if corruption is None else {"corruption": corruption}),
                    **({} if imputed is None else {"imputed": imputed}),
                    **{k: float(v) for k, v in scores.items()},
                }
            )
    # A fitted meta-estimator's selection per modality; other methods have none.
    selection = getattr(fitted, "selection_", None)
    facts = fit_facts(fitted, domain[train], clean, X[test])
    trust = getattr(fitted, "modality_trust_", None)
    return {
        "key": key,
        "records": records,
        "params": {k: json_ready(v) for k, v in (params or {}).items()},
        "validation": validation,
        "facts": facts,
        "gates": (
            None
            if selection is None
            else {
                m: [
                    s.gates.tolist(),
                    s.support.tolist(),
                    facts["stages"][m]["outcome"] == "dense",
                    facts["stages"][m]["evidence"],
                ]
                for m, s in selection.items()
            }
        ),
        "trust": None if trust is None else {m: bool(v) for m, v in trust.items()},
    }


def with_context(X, train, test, transformer, group, order):
    """``X`` with the columns of ``transformer`` (a :class:`~sklearn_seqinv.GroupContext`,
    fitted on the ``train`` rows), the ``train`` and the ``test`` rows transformed apart."""

    def metadata(rows):
        return {"sample_group": group[rows], "sample_order": None if order is None else order[rows]}

    fitted = clone(transformer)
    trained = fitted.fit_transform(X[train], **metadata(train))
    out = np.empty((X.shape[0], trained.shape[1]), dtype=trained.dtype)
    out[train] = trained
    out[test] = fitted.transform(X[test], **metadata(test))
    return out


def _one_environment(grid):
    """``grid`` without its "no penalty" candidate, which one environment makes redundant.

    On one training environment every invariance penalty of the gate phase is zero, so the
    candidate that only switches the penalties off fits bit for bit the model of the
    candidate before it; searching it costs a fit and changes nothing (a tie goes to the
    first candidate).
    """
    if not isinstance(grid, list):
        return grid
    return [
        candidate
        for candidate in grid
        if not all(key.endswith("__invariance") for key in candidate)
    ]
