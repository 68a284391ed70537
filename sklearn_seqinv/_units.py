"""One fit of the protocol: a method fitted on a split's training rows, chosen and validated on
its training domains only, and scored on every target domain (clean and corrupted)."""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning, UndefinedMetricWarning
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, cross_validate
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import has_fit_parameter

from ._aggregate import fit_facts
from ._runlog import json_ready
from ._shifts import corrupt_rows
from .metrics import msa_scores
from .model_selection import TrainingDomainHoldout

__all__ = ["fit_unit", "fit_validated", "unit_key"]


def unit_key(protocol, sources, name):
    """The identity of one fit: protocol, training domains, method."""
    return [protocol, [str(s) for s in sources], name]


def fit_validated(estimator, grid, X, y, domain, random_state, group=None):
    """Fit ``estimator`` on the training rows, choosing from ``grid`` on held-out rows of the
    training domains; returns the refitted model, the chosen parameters and its validation
    scores (the estimator's own ``score``: accuracy or R²).

    The validation is ``{"rows": ..., "n_rows": ..., "domains": [...] or None}``: the chosen
    candidate's score on held-out rows of the training domains (``n_rows`` of them), and,
    with two training domains or more, its score on each training domain held out in turn
    (the chosen configuration refitted on the others: DomainBed's leave-one-domain-out model
    selection; ``None`` for a domain whose refit failed or whose score is undefined).
    Methods without a grid are validated the same way, so the recommendation can compare
    every method; neither score ever sees a target domain.
    """
    metadata = {"sample_domain": domain, "sample_group": group}
    params = {
        key: value
        for key, value in metadata.items()
        if value is not None and has_fit_parameter(estimator, key)
    }
    holdout = TrainingDomainHoldout(random_state=random_state)
    search = GridSearchCV(clone(estimator), grid or {}, cv=holdout, error_score="raise")
    search.fit(X, y, groups=domain, **params)
    chosen = dict(search.best_params_) if grid is not None else None
    domains = None
    if len(np.unique(domain)) > 1:
        # A fit without one training domain can fail where the full fit does not (the
        # others hold a single class): that domain then has no score (None), not the run.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitFailedWarning)
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            held_out = cross_validate(
                clone(search.best_estimator_),
                X,
                y,
                groups=domain,
                cv=LeaveOneGroupOut(),
                params=params,
                error_score=np.nan,
            )
        domains = [float(v) if np.isfinite(v) else None for v in held_out["test_score"]]
    n_rows = len(next(holdout.split(X, sample_domain=domain))[1])
    validation = {"rows": float(search.best_score_), "n_rows": n_rows, "domains": domains}
    return search.best_estimator_, chosen, validation


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
):
    """Fit one method on the training rows and score it on every target domain of the test
    rows, clean and under each corruption (every column standardized on the training rows
    first when ``standardize``).

    Returns a JSON-ready dict: the records, the chosen parameters, the validation scores,
    the facts of the fitted estimator (:func:`~sklearn_seqinv._aggregate.fit_facts`), and
    the gates and modality trust of a fitted meta-estimator.
    """
    estimator, grid = method
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
        rows, imputed = corrupt_rows(
            X, fitted, train, test, modalities[modality], kind, [random_state, i]
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
