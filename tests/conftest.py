"""Shared fixtures: seeded multi-domain data from the library's own generator."""

import pytest
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.datasets import make_multimodal_domains


def text_domains(seed=0, n_samples=900, task="classification"):
    """One modality of 30 columns: 4 invariant, 4 spurious, 22 noise; 3 domains; standardized.

    The spurious tie flips sign in domain 2 only, so it is strong in the pooled data (ERM
    takes it) while its strength still varies across the domains (an invariance penalty can
    see it).
    """
    data = make_multimodal_domains(
        n_samples=n_samples,
        modalities={"text": 30},
        n_invariant={"text": 4},
        n_spurious={"text": 4},
        flip_domains=[2],
        task=task,
        random_state=seed,
    )
    data.X = StandardScaler().fit_transform(data.X)
    return data


@pytest.fixture(scope="session")
def make_text_domains():
    """Factory of :func:`text_domains` datasets for tests that need several seeds."""
    return text_domains


@pytest.fixture(scope="session")
def domains():
    return text_domains(seed=0)


@pytest.fixture(scope="session")
def small_domains():
    data = make_multimodal_domains(
        n_samples=120,
        modalities={"text": 8},
        n_invariant={"text": 2},
        n_spurious={"text": 1},
        random_state=0,
    )
    data.X = StandardScaler().fit_transform(data.X)
    return data


@pytest.fixture(scope="session")
def fitted_selector(domains):
    selector = InvariantMaskSelector(random_state=0)
    return selector.fit(domains.X, domains.y, sample_domain=domains.sample_domain)


def two_modalities(seed=0, n_samples=1200, n_domains=4, **kwargs):
    """Text and video over ``n_domains`` domains, standardized (see make_multimodal_domains)."""
    data = make_multimodal_domains(
        n_samples=n_samples, n_domains=n_domains, random_state=seed, **kwargs
    )
    data.X = StandardScaler().fit_transform(data.X)
    return data


@pytest.fixture(scope="session")
def make_two_modalities():
    return two_modalities


@pytest.fixture(scope="session")
def multimodal():
    return two_modalities(seed=0, n_samples=360, n_domains=3)


@pytest.fixture(scope="session")
def shared_data():
    """``../shared/data`` beside the checkout; tests that use it skip when it is absent."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not folder.is_dir():
        pytest.skip("../shared/data is absent")
    return folder


def pytest_terminal_summary(terminalreporter):
    """Sum up the hostile-input cases of test_robustness.py."""
    import sys

    module = next(
        (m for name, m in list(sys.modules.items()) if name.endswith("test_robustness")), None
    )
    outcomes = getattr(module, "OUTCOMES", [])
    if outcomes:
        count = {k: sum(o == k for _, o in outcomes) for k in ("clear error", "behaves", "crashed")}
        terminalreporter.write_line(
            f"bad-input cases: {len(outcomes)} tried, {count['clear error']} raised a clear "
            f"error, {count['behaves']} behaved as documented, {count['crashed']} crashed"
        )
