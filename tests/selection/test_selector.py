"""Behaviour of InvariantMaskSelector: selection quality, API, routing, errors."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.datasets import make_multimodal_domains


def _selection_counts(selector, data):
    selected = set(selector.get_support(indices=True))
    invariant, spurious = set(data.invariant["text"]), set(data.spurious["text"])
    return selected, invariant, spurious


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invariance_penalty_recovers_invariant_columns(make_text_domains, seed):
    # The gate phase's selection itself (whether it then beats the dense model out of
    # domain is step 4's decision, tested on its own).
    data = make_text_domains(seed)
    selector = InvariantMaskSelector(validate_selection=False, random_state=seed)
    selector.fit(data.X, data.y, sample_domain=data.sample_domain)
    selected, invariant, spurious = _selection_counts(selector, data)
    recall = len(selected & invariant) / len(invariant)
    precision = len(selected & invariant) / len(selected)
    assert recall >= 0.75
    assert precision >= 0.75
    assert not selected & spurious


@pytest.mark.parametrize("seed", [0, 1])
def test_gate_phase_stops_once_the_selection_has_settled(make_text_domains, seed):
    data = make_text_domains(seed)
    params = dict(validate_selection=False, random_state=seed)
    settled = InvariantMaskSelector(**params).fit(data.X, data.y, sample_domain=data.sample_domain)
    full = InvariantMaskSelector(n_iter_no_change=None, **params).fit(
        data.X, data.y, sample_domain=data.sample_domain
    )
    assert len(full.history_) == 100
    assert settled.history_[-1].get("stopped_early")
    assert len(settled.history_) < 100
    np.testing.assert_array_equal(settled.support_, full.support_)


def test_cross_fits_train_as_many_epochs_as_the_fit_they_check(make_text_domains):
    # The cross-fits of step 4 train beside the fit, which alone decides when to stop.
    data = make_text_domains(0)
    selector = InvariantMaskSelector(random_state=0)
    selector.fit(data.X, data.y, sample_domain=data.sample_domain)
    assert selector.history_[-1].get("stopped_early") and len(selector.history_) < 100
    assert len(selector.selection_evidence_.gains) == 3


def test_without_invariance_penalty_spurious_columns_are_taken(make_text_domains):
    taken = 0
    for seed in (0, 1, 2):
        data = make_text_domains(seed)
        selector = InvariantMaskSelector(invariance=None, random_state=seed)
        selector.fit(data.X, data.y, sample_domain=data.sample_domain)
        selected, _, spurious = _selection_counts(selector, data)
        taken += len(selected & spurious)
    assert taken >= 3


@settings(max_examples=6, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    low=st.floats(0.0, 1.0),
    factor=st.floats(2.0, 8.0),
)
def test_larger_sparsity_never_selects_more(make_text_domains, seed, low, factor):
    data = make_text_domains(seed % 5, n_samples=240)
    # The gates alone: the decision of step 4 may replace any selection by the dense model.
    params = dict(max_epochs=30, validate_selection=False, random_state=seed)
    fit = lambda s: InvariantMaskSelector(sparsity=s, **params).fit(  # noqa: E731
        data.X, data.y, sample_domain=data.sample_domain
    )
    assert fit(low * factor + 0.1).get_support().sum() <= fit(low).get_support().sum()


def test_gates_are_in_unit_interval_and_support_matches_threshold(fitted_selector):
    gates = fitted_selector.gates_
    assert gates.shape == (fitted_selector.n_features_in_,)
    assert ((gates >= 0) & (gates <= 1)).all()
    if fitted_selector.selection_kept_:
        np.testing.assert_array_equal(fitted_selector.get_support(), gates > 0.5)
    else:  # the dense model won the validation: an unguided stage keeps every column
        assert fitted_selector.get_support().all() and not (gates > 0.5).all()


def test_transform_keeps_rows_and_selected_columns(fitted_selector, domains):
    Xt = fitted_selector.transform(domains.X)
    support = fitted_selector.get_support(indices=True)
    np.testing.assert_array_equal(Xt, domains.X[:, support])


def test_history_records_each_loss_term(fitted_selector):
    history = fitted_selector.history_
    # Every epoch up to the last, which is max_epochs or the epoch the selection settled.
    assert len(history) == fitted_selector.max_epochs or history[-1].get("stopped_early")
    assert [row["epoch"] for row in history] == list(range(1, len(history) + 1))
    for key in ("train_loss", "task_loss", "invariance_penalty", "sparsity_penalty"):
        assert np.isfinite(history[-1, key])
    assert history[0, "invariance_weight"] == 0.0
    assert history[-1, "invariance_weight"] == fitted_selector.invariance_weight


def test_same_random_state_gives_same_gates_and_leaves_global_rng(small_domains):
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    fit = lambda: InvariantMaskSelector(max_epochs=10, random_state=7).fit(  # noqa: E731
        small_domains.X, small_domains.y, sample_domain=small_domains.sample_domain
    )
    np.testing.assert_array_equal(fit().gates_, fit().gates_)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])


def test_unseeded_fit_leaves_numpy_global_rng(small_domains):
    state = np.random.get_state()[1].copy()
    InvariantMaskSelector(max_epochs=2).fit(small_domains.X, small_domains.y)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_pickle_round_trip_keeps_predictions(fitted_selector, domains):
    restored = pickle.loads(pickle.dumps(fitted_selector))
    np.testing.assert_array_equal(restored.predict(domains.X), fitted_selector.predict(domains.X))
    np.testing.assert_array_equal(restored.gates_, fitted_selector.gates_)
    unfitted = pickle.loads(pickle.dumps(InvariantMaskSelector(sparsity=2.0)))
    assert unfitted.get_params() == InvariantMaskSelector(sparsity=2.0).get_params()


def test_clone_is_unfitted_with_same_params(fitted_selector):
    copy = clone(fitted_selector)
    assert copy.get_params() == fitted_selector.get_params()
    with pytest.raises(NotFittedError):
        copy.transform(np.zeros((2, fitted_selector.n_features_in_)))


def test_pandas_output_keeps_column_names(small_domains):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(small_domains.X, columns=[f"f{i}" for i in range(8)])
    selector = InvariantMaskSelector(max_epochs=10, random_state=0).set_output(transform="pandas")
    out = selector.fit(frame, small_domains.y).transform(frame)
    assert list(out.columns) == list(selector.get_feature_names_out())
    assert set(out.columns) <= set(frame.columns)


def test_guidance_is_required_at_predict_time_when_fitted_with_it(small_domains):
    guidance = small_domains.X[:, :2]
    selector = InvariantMaskSelector(max_epochs=5, random_state=0)
    selector.fit(small_domains.X, small_domains.y, guidance=guidance)
    assert selector.n_guidance_features_ == 2
    with pytest.raises(ValueError, match="fitted with guidance of 2 columns"):
        selector.predict(small_domains.X)
    assert selector.predict(small_domains.X, guidance=guidance).shape == small_domains.y.shape


def test_regression_task_predicts_continuous_scores(make_text_domains):
    data = make_text_domains(0, n_samples=300, task="regression")
    selector = InvariantMaskSelector(max_epochs=30, random_state=0)
    selector.fit(data.X, data.y, sample_domain=data.sample_domain)
    assert selector.task_ == "regression"
    assert not hasattr(selector, "predict_proba")
    assert selector.score(data.X, data.y) > 0.3


@pytest.mark.parametrize("gate", ["hard_concrete", None])
@pytest.mark.parametrize("invariance", ["irm", "vrex", "coral"])
def test_alternative_gates_and_penalties_fit(small_domains, gate, invariance):
    selector = InvariantMaskSelector(
        gate=gate, invariance=invariance, max_epochs=10, random_state=0
    )
    X, y, domain = small_domains.X, small_domains.y, small_domains.sample_domain
    selector.fit(X, y, sample_domain=domain)
    assert selector.score(X, y) > 0.7  # it learns the label under every penalty
    if gate is None:  # the full-batch head fit with the penalty is the whole fit
        assert selector.get_support().all()
        plain = clone(selector).set_params(invariance=None).fit(X, y, sample_domain=domain)
        moved = not np.allclose(selector.predict_proba(X), plain.predict_proba(X), atol=1e-6)
        # The penalty moves the head, but CORAL, which matches the moments of the inputs
        # of an ungated linear head: no parameter of the head changes those.
        assert moved == (invariance != "coral")
    else:
        penalties = np.asarray(selector.history_[:, "invariance_penalty"], dtype=float)
        assert np.isfinite(penalties).all() and penalties.max() > 0


def test_max_features_keeps_the_strongest_gates(fitted_selector, domains):
    selector = clone(fitted_selector).set_params(max_features=2, validate_selection=False)
    selector.fit(domains.X, domains.y, sample_domain=domains.sample_domain)
    assert selector.get_support().sum() == 2
    strongest = np.argsort(-selector.gates_, kind="stable")[:2]
    assert set(selector.get_support(indices=True)) <= set(np.flatnonzero(selector.gates_ > 0.5))
    assert selector.gates_[selector.get_support()].min() >= selector.gates_[strongest].min()


def test_selection_is_never_empty(small_domains):
    selector = InvariantMaskSelector(
        sparsity=5e4, validate_selection=False, max_epochs=30, random_state=0
    )
    with pytest.warns(UserWarning, match="keeping the strongest feature"):
        selector.fit(small_domains.X, small_domains.y)
    assert selector.get_support().sum() == 1


def test_verbose_prints_epoch_log(small_domains, capsys):
    InvariantMaskSelector(max_epochs=2, verbose=1).fit(small_domains.X, small_domains.y)
    out = capsys.readouterr().out
    assert "epoch" in out and "sparsity_penalty" in out
    assert "\x1b[" not in out  # no colour codes when stdout is not a terminal


def test_predict_proba_rows_sum_to_one(fitted_selector, domains):
    proba = fitted_selector.predict_proba(domains.X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert proba.shape == (len(domains.y), 2)


def _grid(**fit_params):
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("select", InvariantMaskSelector(max_epochs=8, random_state=0)),
            ("clf", LogisticRegression()),
        ]
    )
    return GridSearchCV(pipe, {"select__sparsity": [0.1, 1.0]}, cv=LeaveOneGroupOut())


def test_grid_search_routes_sample_domain_with_metadata_routing(small_domains, monkeypatch):
    seen = []
    original = InvariantMaskSelector.fit

    def spy(self, X, y, *, sample_domain=None, guidance=None):
        seen.append(None if sample_domain is None else len(np.unique(sample_domain)))
        return original(self, X, y, sample_domain=sample_domain, guidance=guidance)

    monkeypatch.setattr(InvariantMaskSelector, "fit", spy)
    d = small_domains
    with config_context(enable_metadata_routing=True):
        grid = _grid().fit(d.X, d.y, groups=d.sample_domain, sample_domain=d.sample_domain)
    assert seen and all(n == 2 for n in seen[:-1]) and seen[-1] == 3
    assert grid.best_params_["select__sparsity"] in (0.1, 1.0)


def test_grid_search_routes_sample_domain_without_metadata_routing(small_domains):
    d = small_domains
    grid = _grid().fit(d.X, d.y, groups=d.sample_domain, select__sample_domain=d.sample_domain)
    assert len(grid.cv_results_["mean_test_score"]) == 2
    assert grid.best_estimator_.named_steps["select"].domains_.tolist() == [0, 1, 2]


def test_cross_validate_by_domain_with_routing(small_domains):
    d = small_domains
    pipe = Pipeline(
        [
            ("select", InvariantMaskSelector(max_epochs=5, random_state=0)),
            ("clf", LogisticRegression()),
        ]
    )
    with config_context(enable_metadata_routing=True):
        result = cross_validate(
            pipe,
            d.X,
            d.y,
            cv=LeaveOneGroupOut(),
            params={"groups": d.sample_domain, "sample_domain": d.sample_domain},
        )
    assert len(result["test_score"]) == 3


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda X, y, d: (np.where(X > 1, np.nan, X), y, d), ValueError, "NaN"),
        (lambda X, y, d: (np.where(X > 1, np.inf, X), y, d), ValueError, "infinity"),
        (lambda X, y, d: (X[:, 0], y, d), ValueError, "2D array"),
        (lambda X, y, d: (X, y[:-1], d), ValueError, "inconsistent numbers of samples"),
        (lambda X, y, d: (X, y, d[:-1]), ValueError, "sample_domain has 119 labels"),
        (lambda X, y, d: (X, np.zeros_like(y), d), ValueError, "at least 2 classes"),
        (lambda X, y, d: (X, y, np.stack([d, d], axis=1)), ValueError, "1-dimensional"),
    ],
    ids=["nan", "inf", "1d", "y-length", "domain-length", "one-class", "domain-2d"],
)
def test_bad_fit_input_raises_clear_error(small_domains, change, error, match):
    X, y, d = change(small_domains.X, small_domains.y, small_domains.sample_domain)
    with pytest.raises(error, match=match):
        InvariantMaskSelector(max_epochs=1).fit(X, y, sample_domain=d)


def test_guidance_length_mismatch_raises(small_domains):
    with pytest.raises(ValueError, match="guidance has 5 rows"):
        InvariantMaskSelector(max_epochs=1).fit(
            small_domains.X, small_domains.y, guidance=np.zeros((5, 2))
        )


def test_column_count_change_between_fit_and_transform_raises(fitted_selector, domains):
    with pytest.raises(ValueError, match="features"):
        fitted_selector.transform(domains.X[:, :-1])


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("sparsity", -1.0),
        ("invariance", "dro"),
        ("gate", "relu"),
        ("threshold", 1.5),
        ("max_epochs", 0),
        ("optimizer", "rmsprop"),
        ("batch_size", 2.5),
    ],
)
def test_invalid_parameter_names_the_parameter(small_domains, param, value):
    selector = InvariantMaskSelector().set_params(**{param: value})
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        selector.fit(small_domains.X, small_domains.y)


def test_unavailable_device_raises_value_error(small_domains):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        InvariantMaskSelector(device="cuda").fit(small_domains.X, small_domains.y)


def test_no_warning_on_read_only_input(small_domains):
    X = small_domains.X.copy()
    X.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        InvariantMaskSelector(max_epochs=2, invariance=None).fit(X, small_domains.y).transform(X)


@settings(max_examples=4, deadline=None, derandomize=True)
@given(names=st.permutations(["books", "dvd", "kitchen"]))
def test_renaming_domains_leaves_the_gates_unchanged(small_domains, names):
    d = small_domains
    fit = lambda domain: InvariantMaskSelector(max_epochs=8, random_state=0).fit(  # noqa: E731
        d.X, d.y, sample_domain=domain
    )
    renamed = np.asarray(names)[d.sample_domain]
    np.testing.assert_array_equal(fit(renamed).gates_, fit(d.sample_domain).gates_)


@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 120))
def test_transform_keeps_every_row(fitted_selector, domains, rows):
    Xt = fitted_selector.transform(domains.X[:rows])
    assert Xt.shape == (rows, fitted_selector.get_support().sum())


@pytest.mark.parametrize("how", ["no sample_domain", "one domain"])
def test_penalty_without_two_domains_warns_once_that_it_is_plain_erm(small_domains, how):
    params = {} if how == "no sample_domain" else {"sample_domain": np.zeros(len(small_domains.y))}
    selector = InvariantMaskSelector(max_epochs=2, random_state=0)
    with pytest.warns(UserWarning, match="plain sparse ERM") as record:
        selector.fit(small_domains.X, small_domains.y, **params)
    assert sum("plain sparse ERM" in str(w.message) for w in record) == 1


def test_no_penalty_warning_when_invariance_is_off_or_domains_are_given(small_domains):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*plain sparse ERM")
        InvariantMaskSelector(invariance=None, max_epochs=2).fit(small_domains.X, small_domains.y)
        InvariantMaskSelector(max_epochs=2).fit(
            small_domains.X, small_domains.y, sample_domain=small_domains.sample_domain
        )


def test_sample_group_gives_a_single_domain_environments_to_compare():
    d = make_multimodal_domains(
        n_samples=300, n_domains=1, n_groups=3, modalities={"text": 10}, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "penalty is zero" warning
        selector = InvariantMaskSelector(max_epochs=3, random_state=0).fit(
            d.X, d.y, sample_domain=d.sample_domain, sample_group=d.sample_group
        )
    assert selector.n_environments_ == 3
    assert list(selector.domains_) == [0]


def test_bad_sample_group_is_named_in_the_error():
    d = make_multimodal_domains(n_samples=60, modalities={"text": 6}, random_state=0)
    with pytest.raises(ValueError, match="sample_group has 59 labels"):
        InvariantMaskSelector(max_epochs=1).fit(d.X, d.y, sample_group=d.sample_group[:-1])


def _hidden_moment_spread(selector, X, domain):
    from sklearn_seqinv.nn import coral_penalty
    from sklearn_seqinv.nn.heads import head_features

    with torch.no_grad():
        _, hidden = head_features(selector.net_.module_.head, torch.as_tensor(X))
    codes = torch.as_tensor(np.unique(domain, return_inverse=True)[1])
    return float(coral_penalty(hidden, codes, int(codes.max()) + 1))


def test_coral_shrinks_the_spread_of_the_domains_feature_moments(make_text_domains):
    data = make_text_domains(seed=0, n_samples=600)
    shifted = data.X + 0.0
    shifted[data.sample_domain == 1, :8] += 1.5  # a mean shift in domain 1
    spread = {}
    for invariance in (None, "coral"):
        selector = InvariantMaskSelector(
            gate=None,
            hidden_units=8,
            invariance=invariance,
            invariance_weight=10.0,
            alpha=1e-3,
            random_state=0,
        ).fit(shifted, data.y, sample_domain=data.sample_domain)
        spread[invariance] = _hidden_moment_spread(selector, shifted, data.sample_domain)
    assert spread["coral"] < 0.5 * spread[None]


def test_a_sparse_selection_that_does_not_win_out_of_domain_gives_way():
    # Two training domains, dense signal spread over every column: no sparse selection can
    # prove itself on one held-out domain, so the dense (tuned, ungated) head is kept.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    X = (y[:, None] - 0.5) * rng.uniform(0.05, 0.2, 40) + rng.standard_normal((800, 40))
    domain = np.repeat(["a", "b"], 400)
    selector = InvariantMaskSelector(sparsity=40.0, random_state=0).fit(X, y, sample_domain=domain)
    assert not selector.selection_kept_ and selector.get_support().all()
    assert not (selector.gates_ > 0.5).all()  # the gates alone would have kept fewer
    dense = InvariantMaskSelector(gate=None, invariance=None, random_state=0)
    dense.fit(X, y, sample_domain=domain)
    assert selector.alpha_ == dense.alpha_  # the final weight is chosen as the dense head's


def test_a_dense_refit_reuses_the_pre_fit_and_is_the_same_fit():
    # When every column wins, the refit is the pre-fit (same columns, weight path and
    # folds; scikit-learn's fit does not depend on a starting point): reusing it changes
    # no prediction. The refit step run twice on the same gate phase, reusing and not.
    import copy

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    X = (y[:, None] - 0.5) * rng.uniform(0.05, 0.2, 40) + rng.standard_normal((800, 40))
    domain = np.repeat(["a", "b"], 400)
    selector = InvariantMaskSelector(sparsity=40.0, random_state=0)
    problem = selector._check_fit_data(X, y, domain, None, None)
    prefit = selector._prefit(problem)
    phase = selector._gate_phase(problem, prefit)
    assert prefit.reusable
    every = np.ones(40, dtype=bool)
    net = copy.deepcopy(phase.net)
    reused = selector._refit(problem, phase.net, every, prefit)
    refitted = selector._refit(problem, net, every, prefit._replace(reusable=False))
    assert reused == refitted
    inputs = problem.dataset.X
    with torch.no_grad():
        probabilities = [torch.softmax(n.module_.head(inputs), 1) for n in (phase.net, net)]
    np.testing.assert_allclose(*probabilities, atol=1e-6)


def test_a_sparse_selection_that_wins_out_of_domain_is_kept():
    # Four domains, spurious columns whose tie flips in two of them: every three training
    # domains still show the flip, so the gates blind to any one domain drop the spurious
    # columns as the fit's do, and the dense model (noise and spurious columns as well)
    # loses on every held-out domain.
    data = make_multimodal_domains(
        n_samples=1200,
        n_domains=4,
        modalities={"text": 30},
        n_invariant={"text": 4},
        n_spurious={"text": 4},
        random_state=1,
    )
    X = StandardScaler().fit_transform(data.X)
    selector = InvariantMaskSelector(random_state=1).fit(
        X, data.y, sample_domain=data.sample_domain
    )
    evidence = selector.selection_evidence_
    assert selector.selection_kept_ and selector.get_support().sum() < 10
    assert (evidence.gains > 0).all() and evidence.statistic > evidence.threshold
    assert evidence.held_out == ["0", "1", "2", "3"]


@pytest.mark.parametrize(
    ("gains", "wins"),
    [
        ([0.02, 0.18, 0.47, 0.05], True),  # a gain everywhere, of very different sizes
        ([0.01, 0.012], True),  # small but the same on both of two
        ([0.3, -0.05, 0.01], False),  # a loss on one of three
        ([0.3], False),  # one environment proves nothing
        ([0.05, -0.05, 0.05, -0.05], False),
        ([-0.1, -0.2], False),
        ([0.0, 0.0], False),  # the same loss everywhere: nothing gained (no NaN warning)
    ],
)
def test_sparse_wins_asks_more_than_one_standard_error_across_domains(gains, wins):
    from sklearn_seqinv.selection._decision import sparse_wins

    assert sparse_wins(gains) is wins


def test_sparse_wins_reads_the_spread_across_domains():
    from sklearn_seqinv.selection._decision import sparse_wins

    # The same mean gain: consistent over the domains, it wins; spread out, it does not.
    assert sparse_wins([0.05, 0.06, 0.04])
    assert not sparse_wins([0.25, -0.10, 0.0])


def test_refit_false_predicts_from_the_columns_transform_keeps(make_text_domains):
    # Without a penalty the gates keep the spurious columns open; the tie test drops them.
    data = make_text_domains(0)
    selector = InvariantMaskSelector(
        refit=False, invariance=None, tie_test_level=0.05, random_state=0
    ).fit(data.X, data.y, sample_domain=data.sample_domain)
    dropped = ~selector.get_support()
    assert (selector.gates_[dropped] > 0.5).any()
    moved = data.X.copy()
    moved[:, dropped] = np.random.default_rng(1).standard_normal((len(moved), dropped.sum()))
    # Columns transform drops do not reach predict: replacing them changes nothing.
    np.testing.assert_array_equal(selector.predict(data.X), selector.predict(moved))


def test_sub_groups_too_small_for_a_risk_or_a_tie_are_pooled(small_domains):
    # One row per sub-group: nothing can be estimated per group, so the groups of each
    # domain pool into the domain itself and the fit is the fit without sub-groups.
    rows = np.arange(len(small_domains.y))
    fit = dict(sample_domain=small_domains.sample_domain)
    plain = InvariantMaskSelector(max_epochs=5, random_state=0).fit(
        small_domains.X, small_domains.y, **fit
    )
    grouped = InvariantMaskSelector(max_epochs=5, random_state=0).fit(
        small_domains.X, small_domains.y, sample_group=rows, **fit
    )
    assert grouped.n_pooled_groups_ == len(rows) and plain.n_pooled_groups_ == 0
    assert grouped.n_environments_ == plain.n_environments_
    np.testing.assert_array_equal(grouped.gates_, plain.gates_)
    np.testing.assert_array_equal(grouped.predict(small_domains.X), plain.predict(small_domains.X))


def test_large_sub_groups_stay_environments_of_their_own(small_domains):
    halves = np.arange(len(small_domains.y)) % 2
    selector = InvariantMaskSelector(max_epochs=5, random_state=0).fit(
        small_domains.X,
        small_domains.y,
        sample_domain=small_domains.sample_domain,
        sample_group=halves,
    )
    n_domains = len(np.unique(small_domains.sample_domain))
    assert selector.n_pooled_groups_ == 0 and selector.n_environments_ == 2 * n_domains


def test_a_training_domain_with_a_single_class_is_named_in_a_warning(small_domains):
    from sklearn_seqinv import SequentialModalityClassifier
    from sklearn_seqinv.exceptions import SingleClassDomainWarning

    y = small_domains.y.copy()
    domain = np.where(small_domains.sample_domain == 1, "dvd", "books")
    y[domain == "dvd"] = 1
    with pytest.warns(SingleClassDomainWarning, match="training domain 'dvd' of 2 holds a single"):
        InvariantMaskSelector(max_epochs=2, random_state=0).fit(
            small_domains.X, y, sample_domain=domain
        )
    stages = [("text", InvariantMaskSelector(max_epochs=2, random_state=0), slice(0, 8))]
    with pytest.warns(SingleClassDomainWarning, match="'dvd'"):
        SequentialModalityClassifier(stages).fit(small_domains.X, y, sample_domain=domain)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingleClassDomainWarning)
        InvariantMaskSelector(max_epochs=2, random_state=0).fit(
            small_domains.X, small_domains.y, sample_domain=domain
        )


def test_cross_fitted_decision_judges_each_domain_by_gates_that_never_saw_it():
    # Two training domains, dense signal spread over every column: the gates keep a few
    # columns, and fitted on one domain and judged on the other (both ways) they lose.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    X = (y[:, None] - 0.5) * rng.uniform(0.05, 0.2, 40) + rng.standard_normal((800, 40))
    domain = np.repeat(["a", "b"], 400)
    selector = InvariantMaskSelector(sparsity=40.0, random_state=0)
    selector.fit(X, y, sample_domain=domain)
    evidence = selector.selection_evidence_
    assert evidence.held_out == ["a", "b"] and len(evidence.gains) == 2
    assert evidence.threshold == 1.0
    assert evidence.sparse_kept is selector.selection_kept_ is False
    assert selector.get_support().all() and evidence.sparse_columns < 40
    assert evidence.statistic < evidence.threshold


def test_the_cross_fitted_folds_hold_out_whole_environments():
    from sklearn_seqinv.selection._decision import held_out_domain_folds

    domain = np.repeat(np.arange(8), 5)
    folds = held_out_domain_folds(domain, 8)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(40))
    for train, test in folds:
        assert not set(domain[train]) & set(domain[test])


@pytest.mark.parametrize(("style", "added"), [(0.0, True), (4.0, False)])
def test_a_modality_is_added_only_where_it_lowers_the_held_out_loss(style, added):
    # Text guidance, and a video whose two weakly invariant columns pass the tie test in
    # both cases; with a large per-domain style on every video column, a domain held out
    # from the blind members sees offsets no training domain had, and the video stage
    # hurts there more than it helps: it is left out, and the fitted state says where.
    from sklearn_seqinv.datasets import simulate_video

    data = make_multimodal_domains(
        n_samples=1600,
        n_domains=4,
        modalities={"text": 10},
        n_spurious={"text": 0},
        random_state=0,
    )
    video = simulate_video(data.y, data.sample_domain, style_shift=style, random_state=0)
    video = StandardScaler().fit_transform(video[:, :2])  # the weakly invariant columns
    text = StandardScaler().fit_transform(data.X)
    stage = InvariantMaskSelector(random_state=0)
    stage.fit(video, data.y, sample_domain=data.sample_domain, guidance=text)
    evidence = stage.selection_evidence_
    assert evidence.modality_kept is added
    assert bool(stage.get_support().any()) is added
    assert len(evidence.modality_gains) == 4
    risky = [h for h, g in zip(evidence.held_out, evidence.modality_gains) if g < 0]
    assert evidence.modality_risk == risky


def test_a_gated_hidden_head_is_final_after_the_gate_phase_unless_refit_is_asked(
    make_text_domains,
):
    # refit="auto": a linear head is refitted full batch (and its selection decided on
    # held-out domains); a gated head with a hidden layer keeps the gate phase's head (the
    # refit step alone: tests/selection/test_selector_steps.py).
    data = make_text_domains(seed=0, n_samples=400)
    fit = dict(sample_domain=data.sample_domain)
    hidden = InvariantMaskSelector(hidden_units=8, max_epochs=15, random_state=0)
    hidden.fit(data.X, data.y, **fit)
    assert not hasattr(hidden, "alpha_") and hidden.selection_evidence_ is None
    # What transform drops, predict does not read: its gates are closed.
    used = hidden.net_.module_.support.detach().numpy()
    assert (used[~hidden.get_support()] == 0).all() and (used[hidden.get_support()] > 0).all()
    linear = InvariantMaskSelector(max_epochs=15, random_state=0).fit(data.X, data.y, **fit)
    assert hasattr(linear, "alpha_")
    asked = InvariantMaskSelector(hidden_units=8, refit=True, max_epochs=15, random_state=0)
    asked.fit(data.X, data.y, **fit)
    assert hasattr(asked, "alpha_")


def test_the_history_counts_the_fits_own_gates_open_and_selected(make_text_domains):
    # With blind copies training beside the fit (four domains: four more members), the
    # counts are the fit's own gates, not every member's summed.
    data = make_text_domains(seed=0, n_samples=400)
    selector = InvariantMaskSelector(max_epochs=12, random_state=0)
    selector.fit(data.X, data.y, sample_domain=data.sample_domain)
    last = selector.history_[-1]
    n_features = data.X.shape[1]
    assert 0 <= last["selected_columns"] <= last["open_gates"] <= n_features
    assert last["selected_columns"] == int((selector.gates_ > selector.threshold).sum())


def test_heterogeneity_level_is_the_deprecated_name_of_tie_test_level(multimodal):
    text, video = (multimodal.X[:, multimodal.modalities[m]] for m in ("text", "video"))
    fit = dict(sample_domain=multimodal.sample_domain, guidance=text)
    new = InvariantMaskSelector(tie_test_level=0.2, max_epochs=5, random_state=0)
    new.fit(video, multimodal.y, **fit)
    old = InvariantMaskSelector(heterogeneity_level=0.2, max_epochs=5, random_state=0)
    with pytest.warns(FutureWarning, match="renamed tie_test_level"):
        old.fit(video, multimodal.y, **fit)
    np.testing.assert_array_equal(old.get_support(), new.get_support())
    np.testing.assert_array_equal(old.heterogeneity_pvalues_, new.heterogeneity_pvalues_)
    default = InvariantMaskSelector(max_epochs=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        default.fit(video, multimodal.y, **fit)
