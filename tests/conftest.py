"""Shared fixtures: seeded multi-domain data from the library's own generator."""

import csv

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.datasets import BCLSTM_MODALITIES, make_multimodal_domains


def pytest_configure(config):
    """Under pytest-xdist (``-n auto``, the default) each worker is one process of several on
    the machine's cores: it runs torch and BLAS on one thread, as the protocol's parallel fits
    do, instead of every worker taking every core (which makes the suite slower than serial)."""
    if hasattr(config, "workerinput"):
        threadpool_limits(1)
        torch.set_num_threads(1)


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
    """The real-data folder: ``$SEQINV_SHARED_DATA`` when set, else ``../shared/data``
    beside the checkout; tests that use it skip when it is absent."""
    import os
    from pathlib import Path

    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    folder = Path(os.environ.get("SEQINV_SHARED_DATA") or default)
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (set SEQINV_SHARED_DATA to the real-data folder)")
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


#: Widths of the small bc-LSTM layouts the tests write.
BCLSTM_WIDTHS = {"text": 4, "audio": 3, "video": 5}


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL).writerows(rows)


def write_bclstm_layout(folder, splits=("train", "test"), seed=0):
    """A bc-LSTM folder: train videos v0-v5 (4 clips each), test videos w0-w2 (3 clips)."""
    rng = np.random.default_rng(seed)
    videos = {"train": [f"v{i}" for i in range(6)], "test": [f"w{i}" for i in range(3)]}
    clips = {"train": 4, "test": 3}
    transcripts, members = [], {}
    for split in ("train", "test"):
        members[split] = []
        for video in videos[split]:
            for n in range(1, clips[split] + 1):
                label = int(rng.integers(0, 2))
                members[split].append((len(transcripts), label))
                transcripts.append([f"{video}_{n}", f"words of {video} {n}", "7", str(label)])
    write_csv(folder / "transcripts.csv", transcripts)
    for split in splits:
        order = rng.permutation(len(members[split]))  # rows need not follow the transcripts
        rows = [members[split][i] for i in order]
        feats = {m: rng.standard_normal((len(rows), w)) for m, w in BCLSTM_WIDTHS.items()}
        for modality in BCLSTM_MODALITIES:
            write_csv(
                folder / modality / f"{modality}_{split}0.csv",
                [
                    [*map(str, f.tolist()), str(float(label))]
                    for f, (_, label) in zip(feats[modality], rows)
                ],
            )
        write_csv(
            folder / f"text_{split}.csv",
            [[str(pos), *map(str, f.tolist())] for f, (pos, _) in zip(feats["text"], rows)],
        )
    return folder


@pytest.fixture(scope="session")
def make_bclstm_folder():
    """Factory of small bc-LSTM folders (text 4, audio 3, video 5 columns)."""
    return write_bclstm_layout
