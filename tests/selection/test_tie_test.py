"""The guided tie test: power under dense guidance, size on invariant columns."""

import numpy as np
import pytest

from sklearn_seqinv.selection._tie_test import guidance_scores, tie_heterogeneity, tie_pvalues

GUIDANCE_STRENGTH = 1.5  # the guidance alone classifies about 90% of rows right


def _dense_guidance_case(seed, n_domains=2, rows=600, width=384):
    """Binary labels, dense guidance that carries them, and three columns to test."""
    rng = np.random.default_rng(seed)
    n = n_domains * rows
    domain = np.repeat(np.arange(n_domains), rows)
    y = rng.integers(0, 2, n)
    flip = np.array([0.4 if d % 2 == 0 else -0.6 for d in range(n_domains)])
    strength = np.linspace(1.0, 0.5, n_domains)
    ties = np.column_stack([np.full(n_domains, 0.5), flip, strength])[domain]
    signed = (y - y.mean()) / y.std()
    X = ties * signed[:, None] + 0.5 * rng.standard_normal(n_domains)[domain, None]
    X += rng.standard_normal((n, 3))
    loadings = rng.standard_normal(width) / np.sqrt(width) * GUIDANCE_STRENGTH
    guidance = signed[:, None] * loadings + rng.standard_normal((n, width))
    return X, y, domain, guidance


@pytest.mark.parametrize("n_domains", [2, 3])
def test_ties_that_flip_or_change_strength_fail_under_dense_guidance(n_domains):
    X, y, domain, guidance = _dense_guidance_case(0, n_domains)
    p = tie_pvalues(X, y, domain, guidance=guidance, classification=True)
    assert p[1] < 1e-3 and p[2] < 0.01  # sign flip, strength 1.0 -> 0.5
    assert p[0] > 0.05  # the invariant column passes


def test_holding_every_dense_guidance_column_fixed_would_hide_a_sign_flip():
    # Why the test conditions on cross-fitted scores: with 384 guidance columns the label is
    # almost a linear function of them inside a domain, and its coefficient loses precision.
    X, y, domain, guidance = _dense_guidance_case(0)
    T = (y - y.mean())[:, None].astype(float)
    p_all = tie_heterogeneity(X, T, domain, controls=guidance)[1]
    p_scores = tie_pvalues(X, y, domain, guidance=guidance, classification=True)
    assert p_all[1] > 100 * p_scores[1]


@pytest.mark.parametrize("seed", [0, 1])
def test_a_strength_change_fails_even_where_the_guidance_predicts_the_label_almost_surely(seed):
    # Guidance that classifies nearly every row leaves the label little variation beyond its
    # scores inside a domain: the guided test alone lets a tie that halves pass; the test
    # without the guidance sees it, and a column passes only when neither test rejects.
    rng = np.random.default_rng(seed)
    domain, y = np.repeat([0, 1], 1000), rng.integers(0, 2, 2000)
    signed = (y - y.mean()) / y.std()
    ties = np.array([[0.5, 1.0], [0.5, 0.5]])[domain]  # invariant; strength 1.0 -> 0.5
    X = ties * signed[:, None] + 0.5 * rng.standard_normal(2)[domain, None]
    X += rng.standard_normal((2000, 2))
    guidance = signed[:, None] * rng.standard_normal(32) / np.sqrt(32) * 6.0
    guidance += rng.standard_normal((2000, 32))
    T = (y - y.mean())[:, None].astype(float)
    guided = tie_heterogeneity(X, T, domain, controls=guidance_scores(guidance, T))[1]
    p = tie_pvalues(X, y, domain, guidance=guidance, classification=True)
    assert guided[1] > 0.05  # what the guided test alone would keep
    assert p[1] < 1e-6
    assert p[0] > 0.05


def test_the_test_keeps_its_level_on_invariant_columns():
    rejected = 0
    for seed in range(40):
        X, y, domain, guidance = _dense_guidance_case(seed, rows=200, width=64)
        p = tie_pvalues(X[:, :1], y, domain, guidance=guidance, classification=True)
        rejected += p[0] < 0.05
    assert rejected <= 6  # 5% of 40 is 2; binomial 97.5% bound about 5


def test_guidance_scores_are_out_of_fold():
    # Pure-noise guidance as wide as the rows: in-sample ridge could fit the label closely;
    # out-of-fold scores cannot.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100).astype(float)[:, None]
    scores = guidance_scores(rng.standard_normal((100, 100)), y)
    assert abs(np.corrcoef(scores[:, 0], y[:, 0])[0, 1]) < 0.4


def test_regression_targets_get_one_score_column_each():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((120, 2))
    scores = guidance_scores(y @ rng.standard_normal((2, 10)) + rng.standard_normal((120, 10)), y)
    assert scores.shape == (120, 2)


def test_tie_filter_routes_sample_domain_in_a_pipeline():
    from sklearn import config_context
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sklearn_seqinv import TieInvarianceFilter

    X, y, domain, _ = _dense_guidance_case(0, n_domains=3, rows=300)
    with config_context(enable_metadata_routing=True):
        model = make_pipeline(TieInvarianceFilter(), LogisticRegression().set_fit_request())
        model.fit(X, y, sample_domain=domain)
    assert model[0].get_support().tolist() == [True, False, False]
    assert model.predict(X).shape == (len(y),)


def test_the_selector_runs_the_filter_as_its_step_three(make_two_modalities):
    from sklearn_seqinv import InvariantMaskSelector, TieInvarianceFilter

    data = make_two_modalities(0, n_samples=600)
    text, video = data.modalities["text"], data.modalities["video"]
    guidance = data.X[:, text[:4]]
    selector = InvariantMaskSelector(max_epochs=5, random_state=0).fit(
        data.X[:, video], data.y, sample_domain=data.sample_domain, guidance=guidance
    )
    alone = TieInvarianceFilter().fit(
        data.X[:, video], data.y, sample_domain=data.sample_domain, guidance=guidance
    )
    np.testing.assert_array_equal(selector.heterogeneity_pvalues_, alone.pvalues_)
    assert not (selector.get_support() & ~alone.get_support()).any()


def test_one_environment_keeps_nothing_and_none_keeps_everything():
    from sklearn_seqinv import TieInvarianceFilter

    X, y, _, _ = _dense_guidance_case(0, rows=100)
    one = TieInvarianceFilter().fit(X, y, sample_domain=np.zeros(len(y)))
    assert not one.get_support().any() and np.isnan(one.pvalues_).all()
    assert TieInvarianceFilter().fit(X, y).get_support().all()


def test_a_domain_offset_that_goes_with_the_share_of_positives_is_not_a_tie():
    # Three domains with 30%, 50% and 70% positives; column 1 moves with the domain only
    # (its offset follows the share of positives), so pooled over the domains it predicts
    # the label, and inside every domain it ties nothing to it. Column 0 has a real tie.
    from sklearn_seqinv import InvariantMaskSelector, TieInvarianceFilter

    rng = np.random.default_rng(0)
    domain = np.repeat([0, 1, 2], 400)
    share = np.array([0.3, 0.5, 0.7])[domain]
    y = (rng.random(1200) < share).astype(int)
    offset = 3.0 * (share - 0.5)
    X = np.c_[0.8 * y + rng.standard_normal(1200), offset + rng.standard_normal(1200)]
    text = (y + rng.standard_normal(1200))[:, None]
    assert np.corrcoef(X[:, 1], y)[0, 1] > 0.1  # pooled, the offset looks like a tie
    test = TieInvarianceFilter().fit(X, y, sample_domain=domain, guidance=text)
    assert test.get_support().tolist() == [True, False]
    assert test.tie_pvalues_[1] > 0.05 and test.pvalues_[1] > 0.05
    # In a guided stage, neither candidate of the decision keeps it.
    for validate in (True, False):
        stage = InvariantMaskSelector(sparsity=0.0, validate_selection=validate, random_state=0)
        stage.fit(X, y, sample_domain=domain, guidance=text)
        assert not stage.get_support()[1]
