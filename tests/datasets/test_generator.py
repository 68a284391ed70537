"""make_multimodal_domains: shapes, roles, determinism and the domain shift it promises."""

import numpy as np
import pytest

from sklearn_seqinv.datasets import make_multimodal_domains, simulate_video


def test_roles_are_disjoint_columns_of_their_modality():
    data = make_multimodal_domains(n_samples=120, random_state=0)
    for name, cols in data.modalities.items():
        roles = [set(data[r][name]) for r in ("invariant", "redundant", "spurious")]
        assert all(role <= set(cols) for role in roles)
        assert sum(len(r) for r in roles) == len(set().union(*roles))


def test_same_seed_same_data_and_mosei_shapes():
    a = make_multimodal_domains(n_samples=60, modalities="mosei", random_state=3)
    b = make_multimodal_domains(n_samples=60, modalities="mosei", random_state=3)
    np.testing.assert_array_equal(a.X, b.X)
    assert {k: len(v) for k, v in a.modalities.items()} == {"text": 768, "video": 35, "audio": 74}


def test_spurious_tie_flips_sign_across_domains_and_invariant_tie_does_not():
    data = make_multimodal_domains(n_samples=3000, n_domains=4, random_state=0)
    signed = 2 * data.y - 1
    for role, expect_flip in (("spurious", True), ("invariant", False)):
        col = data[role]["video"][0]
        ties = [
            np.corrcoef(data.X[data.sample_domain == e, col], signed[data.sample_domain == e])[0, 1]
            for e in range(4)
        ]
        assert (min(ties) < 0 < max(ties)) == expect_flip


def test_regression_scores_lie_in_mosi_range_and_frame_has_prefixed_names():
    pd = pytest.importorskip("pandas")
    data = make_multimodal_domains(n_samples=200, task="regression", as_frame=True, random_state=0)
    assert isinstance(data.X, pd.DataFrame)
    assert data.y.min() >= -3 and data.y.max() <= 3
    assert list(data.X.columns[:2]) == ["text_0", "text_1"]


def test_too_many_roles_for_a_modality_raises():
    with pytest.raises(ValueError, match="roles need"):
        make_multimodal_domains(modalities={"text": 3}, n_invariant={"text": 4})


def test_spread_ties_keep_their_sign_and_change_strength_outside_the_flipped_domain():
    data = make_multimodal_domains(
        n_samples=400, n_domains=4, flip_domains=[3], tie_strengths="spread", random_state=0
    )
    ties = data.spurious_ties
    np.testing.assert_allclose(np.sort(ties[:3]), [0.5, 0.75, 1.0])
    assert -1.0 <= ties[3] <= -0.5


def test_simulated_video_with_flip_domains_reverses_only_those():
    y = np.tile([0, 1], 400)
    domain = np.repeat(["a", "b", "c", "d"], 200)
    video = simulate_video(y, domain, flip_domains=["d"], random_state=0)
    ties = [np.corrcoef(video[domain == d, 2], y[domain == d])[0, 1] for d in "abcd"]
    assert min(ties[:3]) > 0.2 and ties[3] < -0.2
    assert np.ptp(ties[:3]) > 0.1  # the strength changes across the unflipped domains
    with pytest.raises(ValueError, match="not in sample_domain"):
        simulate_video(y, domain, flip_domains=["z"])
