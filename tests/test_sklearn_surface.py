"""The scikit-learn surface: every public estimator x every call a user makes x routing.

Each call runs with metadata routing off (``<step>__sample_domain`` and ``groups``) and on
(``sample_domain`` routed by name), and asserts what the call must give: a finite score for
every fold and every grid candidate (a NaN that scikit-learn only warns about is a failure
here), equal predictions after a round trip, the names of the columns kept.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sklearn_seqinv import (
    InvariantMaskSelector,
    SequentialModalityClassifier,
    SequentialModalityRegressor,
    TieInvarianceFilter,
)
from sklearn_seqinv.datasets import make_multimodal_domains
from sklearn_seqinv.exceptions import SeqinvWarning
from sklearn_seqinv.model_selection import LeaveOneDomainOut
from sklearn_seqinv.persistence import load, save


def _selector():
    return InvariantMaskSelector(max_epochs=3, random_state=0)


def _stages(data):
    return [(m, _selector(), data.modalities[m]) for m in ("text", "video")]


# name -> (task of the data, the estimator for that data, the grid's parameter and values)
CASES = {
    "selector": ("classification", lambda d: _selector(), ("sparsity", [1.0, 8.0])),
    "classifier": (
        "classification",
        lambda d: SequentialModalityClassifier(_stages(d)),
        ("strategy", ["sequential", "independent"]),
    ),
    "regressor": (
        "regression",
        lambda d: SequentialModalityRegressor(_stages(d)),
        ("strategy", ["sequential", "independent"]),
    ),
    "tie_filter": ("classification", lambda d: TieInvarianceFilter(), ("level", [0.01, 0.1])),
}
CALLS = ["fit_score", "predict_proba", "cross_validate", "grid_search", "clone", "set_output"]
CALLS += ["persistence"]


def _data(task):
    data = make_multimodal_domains(
        n_samples=240, n_domains=3, modalities={"text": 12, "video": 10}, task=task, random_state=0
    )
    data.X = StandardScaler().fit_transform(data.X)
    return data


def _pipeline(name, data):
    """The estimator last in a Pipeline; a transformer-only estimator feeds a classifier."""
    estimator = CASES[name][1](data)
    if name == "tie_filter":
        pipe = make_pipeline(StandardScaler(), estimator, LogisticRegression())
        return pipe, "tieinvariancefilter"
    return make_pipeline(StandardScaler(), estimator), type(estimator).__name__.lower()


def _fit_params(step, data, routing):
    if routing:
        return {"sample_domain": data.sample_domain}
    return {f"{step}__sample_domain": data.sample_domain}


@pytest.mark.parametrize("routing", [False, True], ids=["routing_off", "routing_on"])
@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("name", list(CASES))
def test_public_estimator_surface(name, call, routing, tmp_path):
    task, _, (param, values) = CASES[name]
    data = _data(task)
    X, y, domain = data.X, data.y, data.sample_domain
    pipe, step = _pipeline(name, data)
    fit_params = _fit_params(step, data, routing)
    with config_context(enable_metadata_routing=routing), warnings.catch_warnings():
        # Scoring failures must raise here, not hide behind scikit-learn's warning.
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", category=SeqinvWarning)
        if call == "fit_score":
            score = pipe.fit(X, y, **fit_params).score(X, y)
            assert np.isfinite(score)
            weighted = pipe.score(X, y, **({} if routing else {"sample_weight": np.ones(len(y))}))
            assert weighted == pytest.approx(score)
        elif call == "predict_proba":
            if task != "classification":
                assert not hasattr(pipe.fit(X, y, **fit_params), "predict_proba")
                return
            proba = pipe.fit(X, y, **fit_params).predict_proba(X)
            assert proba.shape == (len(y), 2)
            np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        elif call == "cross_validate":
            if routing:
                found = cross_validate(
                    pipe, X, y, cv=LeaveOneDomainOut(), params={"sample_domain": domain}
                )
            else:
                found = cross_validate(
                    pipe, X, y, groups=domain, cv=LeaveOneGroupOut(), params=fit_params
                )
            assert len(found["test_score"]) == 3
            assert np.isfinite(found["test_score"]).all()
        elif call == "grid_search":
            grid = {f"{step}__{param}": values}
            if routing:
                search = GridSearchCV(pipe, grid, cv=LeaveOneDomainOut()).fit(X, y, **fit_params)
            else:
                search = GridSearchCV(pipe, grid, cv=LeaveOneGroupOut())
                search.fit(X, y, groups=domain, **fit_params)
            assert np.isfinite(search.cv_results_["mean_test_score"]).all()
            assert search.best_params_[f"{step}__{param}"] in values
        elif call == "clone":
            fitted = pipe.fit(X, y, **fit_params)
            copy = clone(fitted)
            assert copy.get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
            with pytest.raises(NotFittedError):
                check_is_fitted(copy[-1])
        elif call == "set_output":
            estimator = pipe[1] if name == "tie_filter" else pipe[-1]
            estimator.set_output(transform="pandas")
            frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
            out = estimator.fit(frame, y, sample_domain=domain).transform(frame)
            assert isinstance(out, pd.DataFrame)
            assert list(out.columns) == list(estimator.get_feature_names_out())
            assert set(out.columns) <= set(frame.columns) | {
                f"{m}__c{j}" for m in ("text", "video") for j in range(X.shape[1])
            }
        elif call == "persistence":
            fitted = pipe.fit(X, y, **fit_params)
            save(fitted, tmp_path / "model.pt")
            np.testing.assert_array_equal(load(tmp_path / "model.pt").predict(X), fitted.predict(X))
