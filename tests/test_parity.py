"""Safe defaults: the head matches a tuned linear model, sparsity does not depend on width.

These assert points 1-3 of "never below a tuned linear model": the ungated head against a
linear model whose regularization is chosen on the training domains, the default selection
at 20, 100 and 768 columns, and (on the shared real reviews, skipped without them) the
default selector and the model-selected text-first pipeline against that linear model.
"""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier
from sklearn_seqinv.datasets import load_reviews, make_multimodal_domains
from sklearn_seqinv.evaluation import selection_grid, tuned_linear
from sklearn_seqinv.model_selection import LeaveOneDomainOut, TrainingDomainHoldout


def _lodo(make, X, y, domain, score):
    """Per held-out domain score of ``make()`` fitted on the other domains."""
    scores = []
    for train, test in LeaveOneDomainOut().split(X, sample_domain=domain):
        model = make()
        if isinstance(model, GridSearchCV):
            model.fit(X[train], y[train], groups=domain[train])
        else:
            model.fit(X[train], y[train], **{_domain_param(model): domain[train]})
        scores.append(score(y[test], model.predict(X[test])))
    return np.array(scores)


def _domain_param(model):
    last = model.steps[-1][0] if hasattr(model, "steps") else None
    return f"{last}__sample_domain" if last else "sample_domain"


def _accuracy(y_true, y_pred):
    return float(np.mean(y_true == y_pred))


def _mae(y_true, y_pred):
    return float(np.mean(np.abs(y_true - y_pred)))


def _ungated():
    return make_pipeline(
        StandardScaler(), InvariantMaskSelector(gate=None, invariance=None, random_state=0)
    )


def test_ungated_head_matches_a_tuned_ridge_on_generated_regression():
    data = make_multimodal_domains(
        n_samples=1200, n_domains=4, modalities={"text": 60}, task="regression", random_state=0
    )
    args = (data.X, data.y, data.sample_domain, _mae)
    ours = _lodo(_ungated, *args).mean()
    ridge = _lodo(lambda: tuned_linear("regression"), *args).mean()
    assert ours <= ridge * 1.02


def test_ungated_head_matches_a_tuned_logistic_regression_on_generated_classes():
    data = make_multimodal_domains(
        n_samples=1200, n_domains=4, modalities={"text": 60}, random_state=1
    )
    args = (data.X, data.y, data.sample_domain, _accuracy)
    ours = _lodo(_ungated, *args).mean()
    linear = _lodo(lambda: tuned_linear("classification"), *args).mean()
    assert ours >= linear - 0.005


@pytest.mark.parametrize("width", [20, 100, 768])
def test_default_sparsity_serves_every_width(width):
    data = make_multimodal_domains(
        n_samples=1600, n_domains=4, modalities={"text": width}, random_state=0
    )
    X = StandardScaler().fit_transform(data.X)
    selector = InvariantMaskSelector(random_state=0).fit(
        X, data.y, sample_domain=data.sample_domain
    )
    invariant, spurious = data.invariant["text"], data.spurious["text"]
    noise = np.setdiff1d(np.arange(width), np.concatenate([invariant, spurious]))
    assert selector.support_[invariant].mean() >= 0.75
    assert selector.support_[noise].mean() <= 0.10


def _reviews(shared_data):
    return load_reviews(shared_data / "reviews4")


def test_default_selector_is_within_a_point_of_a_tuned_linear_model_on_reviews(shared_data):
    data = _reviews(shared_data)
    X = np.asarray(data.X, dtype=np.float64)
    args = (X, data.y, data.sample_domain, _accuracy)
    ours = _lodo(
        lambda: make_pipeline(StandardScaler(), InvariantMaskSelector(random_state=0)), *args
    )
    linear = _lodo(lambda: tuned_linear("classification"), *args)
    assert ours.mean() >= linear.mean() - 0.01
    assert ours.min() >= linear.min() - 0.02


@pytest.mark.slow
def test_model_selected_text_first_is_within_half_a_point_on_reviews(shared_data):
    data = _reviews(shared_data)
    X = StandardScaler().fit_transform(np.asarray(data.X, dtype=np.float64))
    columns = np.arange(X.shape[1])

    def text_first():
        model = SequentialModalityClassifier(
            [("text", InvariantMaskSelector(random_state=0), columns)]
        )
        return GridSearchCV(
            model, selection_grid(["text"]), cv=TrainingDomainHoldout(random_state=0)
        )

    scores, linear = [], []
    for train, test in LeaveOneDomainOut().split(X, sample_domain=data.sample_domain):
        search = text_first().fit(
            X[train],
            data.y[train],
            groups=data.sample_domain[train],
            sample_domain=data.sample_domain[train],
        )
        scores.append(_accuracy(data.y[test], search.predict(X[test])))
    linear = _lodo(lambda: tuned_linear("classification"), X, data.y, data.sample_domain, _accuracy)
    assert np.mean(scores) >= linear.mean() - 0.005
