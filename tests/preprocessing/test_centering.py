"""DomainCenterer: per-domain centring at fit and at transform."""

import numpy as np
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_seqinv import DomainCenterer
from sklearn_seqinv.datasets import make_multimodal_domains
from sklearn_seqinv.persistence import load, save


@pytest.fixture(scope="module")
def styled():
    # Every column of a domain moved by that domain's own offset (style_shift).
    return make_multimodal_domains(
        n_samples=600, n_domains=3, modalities={"text": 6}, style_shift=3.0, random_state=0
    )


def test_each_training_domain_is_centred_by_its_own_means(styled):
    out = DomainCenterer().fit_transform(styled.X, sample_domain=styled.sample_domain)
    for code in np.unique(styled.sample_domain):
        rows = styled.sample_domain == code
        np.testing.assert_allclose(out[rows].mean(axis=0), 0.0, atol=1e-10)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    offsets=st.lists(st.floats(-50, 50), min_size=3, max_size=3),
    new_offset=st.floats(-50, 50),
)
def test_a_domains_offset_changes_nothing(styled, offsets, new_offset):
    X, domain = styled.X, styled.sample_domain
    train, new = domain < 2, domain == 2
    shifted = X + np.asarray(offsets)[domain][:, None]
    shifted[new] += new_offset
    outputs = []
    for data in (X, shifted):
        centerer = DomainCenterer().fit(data[train], sample_domain=domain[train])
        outputs.append(
            (
                centerer.transform(data[train], sample_domain=domain[train]),
                centerer.transform(data[new], sample_domain=domain[new]),
            )
        )
    for plain, moved in zip(*outputs):
        np.testing.assert_allclose(plain, moved, atol=1e-8)


def test_a_pipeline_routes_the_domains_to_transform(styled):
    X, y, domain = styled.X, styled.y, styled.sample_domain
    train, new = domain < 2, domain == 2
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            DomainCenterer()
            .set_fit_request(sample_domain=True)
            .set_transform_request(sample_domain=True),
            LogisticRegression(),
        )
        pipe.fit(X[train], y[train], sample_domain=domain[train])
        proba = pipe.predict_proba(X[new], sample_domain=domain[new])
    centred = X[new] - X[new].mean(axis=0)
    np.testing.assert_allclose(proba, pipe[-1].predict_proba(centred))


def test_bad_domains_get_clear_errors(styled):
    X, domain = styled.X, styled.sample_domain
    centerer = DomainCenterer(min_rows=10).fit(X, sample_domain=domain)
    with pytest.raises(ValueError, match="needs it at transform"):
        centerer.transform(X)
    with pytest.raises(ValueError, match="Domain 'unseen' was not seen in fit and brings 3"):
        centerer.transform(X[:3], sample_domain=["unseen"] * 3)
    with pytest.raises(ValueError, match="sample_domain has 5 labels"):
        centerer.transform(X, sample_domain=domain[:5])


def test_without_domains_it_is_a_mean_centring(styled):
    X = styled.X
    np.testing.assert_allclose(DomainCenterer().fit_transform(X), X - X.mean(axis=0))


def test_it_saves_safely(styled, tmp_path):
    centerer = DomainCenterer().fit(styled.X, sample_domain=styled.sample_domain)
    save(centerer, tmp_path / "centerer.skops")
    loaded = load(tmp_path / "centerer.skops")
    args = dict(sample_domain=styled.sample_domain)
    np.testing.assert_array_equal(
        loaded.transform(styled.X, **args), centerer.transform(styled.X, **args)
    )
