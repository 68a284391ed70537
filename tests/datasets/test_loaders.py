"""Loaders on small files written here in each real layout, corrupt and hostile ones too."""

import csv
import hashlib
import pickle

import numpy as np
import pytest

from sklearn_seqinv.datasets import (
    UnsafePickleError,
    combine_domains,
    load_csd,
    load_meld,
    load_mmsa,
    load_reviews,
    safe_load_pickle,
)


def _mmsa_split(rng, n, aligned):
    T = 8
    part = {
        "text": rng.standard_normal((n, 5, 6)),
        "vision": rng.standard_normal((n, T, 4)),
        "audio": rng.standard_normal((n, T, 3)),
        "raw_text": [f"utterance {i}" for i in range(n)],
        "id": [f"vid{i % 3}$_${i}" for i in range(n)],
        "regression_labels": rng.uniform(-3, 3, n).astype(np.float32),
    }
    part["text"][:, 3:] = 0.0  # zero padding
    if not aligned:
        part["audio"][:, -1] = -np.inf
        part["audio_lengths"] = np.full(n, 4)
        part["vision_lengths"] = np.full(n, 5)
    return part


@pytest.fixture
def mmsa_file(tmp_path):
    rng = np.random.default_rng(0)
    content = {
        s: _mmsa_split(rng, n, aligned=False) for s, n in (("train", 6), ("valid", 3), ("test", 4))
    }
    path = tmp_path / "mosi_unaligned.pkl"
    path.write_bytes(pickle.dumps(content, protocol=4))
    return path, content


def test_load_mmsa_pools_with_lengths_and_cleans_inf(mmsa_file):
    path, content = mmsa_file
    data = load_mmsa(path)
    assert data.X.shape == (13, 6 + 4 + 3)
    assert np.isfinite(data.X).all()
    train = content["train"]
    np.testing.assert_allclose(data.X[0, data.modalities["audio"]], train["audio"][0, :4].mean(0))
    np.testing.assert_allclose(data.X[0, data.modalities["text"]], train["text"][0, :3].mean(0))
    assert data.split.tolist().count("valid") == 3
    assert set(data.sample_domain) == {"mosi_unaligned"}


def test_load_mmsa_one_split_polarity_and_video_domains(mmsa_file):
    path, content = mmsa_file
    data = load_mmsa(path, split="test", target="polarity", domain="video")
    assert len(data.y) == 4 and set(np.unique(data.y)) <= {0, 1}
    np.testing.assert_array_equal(data.y, content["test"]["regression_labels"] >= 0)
    assert set(data.sample_domain) <= {"vid0", "vid1", "vid2"}
    # The video id is also the sub-group, whatever the domain.
    assert load_mmsa(path, split="test").sample_group.tolist() == data.sample_domain.tolist()


def test_load_mmsa_checks_sha256(mmsa_file):
    path, _ = mmsa_file
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_mmsa(path, sha256=good).X.shape[0] == 13
    with pytest.raises(ValueError, match="SHA-256"):
        load_mmsa(path, sha256="0" * 64)


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch exploited_marker",))


def test_crafted_pickle_is_refused_without_running_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"train": _Exploit()}))
    with pytest.raises(UnsafePickleError, match=r"posix\.system|os\.system"):
        load_mmsa(path)
    assert not (tmp_path / "exploited_marker").exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not-mmsa", "missing-key"])
def test_damaged_mmsa_files_give_clear_errors(mmsa_file, tmp_path, damage):
    path, content = mmsa_file
    before = path.read_bytes()
    bad = tmp_path / "bad.pkl"
    if damage == "truncate":
        bad.write_bytes(before[: len(before) // 2])
    elif damage == "garbage":
        bad.write_bytes(b"\x00\x01 this is not a pickle")
    elif damage == "not-mmsa":
        bad.write_bytes(pickle.dumps([1, 2, 3]))
    else:
        del content["train"]["regression_labels"]
        bad.write_bytes(pickle.dumps(content))
    with pytest.raises(ValueError, match=r"truncated|not a valid pickle|not an MMSA|lacks"):
        load_mmsa(bad)
    assert path.read_bytes() == before


def test_safe_pickle_reads_protocol_2_numpy_arrays(tmp_path):
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps({"x": np.arange(4.0), "s": np.float32(2.5)}, protocol=2))
    loaded = safe_load_pickle(path)
    np.testing.assert_array_equal(loaded["x"], np.arange(4.0))


def _write_csd(path, entries, root="seq"):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        data = f.create_group(root).create_group("data")
        f[root].create_group("metadata")
        for video, (features, intervals) in entries.items():
            group = data.create_group(video)
            group["features"] = features
            group["intervals"] = intervals


def test_load_csd_pools_frames_inside_each_labelled_segment(tmp_path):
    frames = np.arange(10, dtype=float).reshape(5, 2)
    times = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]], dtype=float)
    _write_csd(tmp_path / "facet.csd", {"v1": (frames, times)})
    _write_csd(
        tmp_path / "labels.csd",
        {"v1": (np.array([[1.5], [-2.0]]), np.array([[0.0, 2.0], [2.0, 5.0]]))},
    )
    data = load_csd({"video": tmp_path / "facet.csd"}, tmp_path / "labels.csd")
    np.testing.assert_allclose(data.X, [frames[:2].mean(0), frames[2:].mean(0)])
    np.testing.assert_allclose(data.y, [1.5, -2.0])
    assert data.ids.tolist() == ["v1[0]", "v1[1]"]
    assert data.sample_group.tolist() == ["v1", "v1"]


def test_load_csd_rejects_a_corrupt_file(tmp_path):
    pytest.importorskip("h5py")
    (tmp_path / "bad.csd").write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        load_csd({"video": tmp_path / "bad.csd"}, tmp_path / "bad.csd")


def _write_meld(folder):
    header = [
        "Sr No.",
        "Utterance",
        "Speaker",
        "Emotion",
        "Sentiment",
        "Dialogue_ID",
        "Utterance_ID",
        "Season",
        "Episode",
    ]
    rows = {
        "train_sent_emo.csv": [
            [1, "Oh my God!", "Monica", "surprise", "positive", 0, 0, 1, 2],
            [2, "I hate this.", "Ross", "anger", "negative", 0, 1, 1, 2],
            [3, "Okay.", "Joey", "neutral", "neutral", 1, 0, 2, 5],
        ],
        "dev_sent_emo.csv": [[1, "Great news", "Rachel", "joy", "positive", 0, 0, 3, 1]],
    }
    for name, body in rows.items():
        with open(folder / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(body)


def test_load_meld_transcripts_by_season(tmp_path):
    _write_meld(tmp_path)
    data = load_meld(tmp_path)
    assert data.X.shape == (4, 1) and data.X[0, 0] == "Oh my God!"
    assert data.y.tolist() == [2, 0, 1, 2]
    assert data.sample_domain.tolist() == ["season1", "season1", "season2", "season3"]
    assert data.sample_group.tolist() == ["s1e2", "s1e2", "s2e5", "s3e1"]
    assert load_meld(tmp_path, target="polarity").y.tolist() == [1, 0, 1, 1]
    # The context of an utterance is its dialogue, in the order of Utterance_ID.
    assert data.context_group.tolist() == ["train/0", "train/0", "train/1", "dev/0"]
    assert data.sample_order.tolist() == [0, 1, 0, 0]


def test_load_meld_names_an_utterance_id_that_is_not_a_number(tmp_path):
    _write_meld(tmp_path)
    path = tmp_path / "dev_sent_emo.csv"
    path.write_text(path.read_text().replace("0,0,3,1", "0,first,3,1"))
    with pytest.raises(ValueError, match="Utterance_ID 'first'"):
        load_meld(tmp_path)


def test_load_meld_feature_pickle_per_split(tmp_path):
    _write_meld(tmp_path)
    train = {"0_0": np.ones(3), "0_1": np.zeros(3), "1_0": np.full(3, 2.0)}
    dev = {"0_0": np.full(3, 5.0)}
    (tmp_path / "text.pkl").write_bytes(pickle.dumps((train, dev, {})))
    data = load_meld(tmp_path, features={"text": tmp_path / "text.pkl"}, domain="split")
    np.testing.assert_array_equal(data.X[:, 0], [1.0, 0.0, 2.0, 5.0])
    assert data.sample_domain.tolist() == ["train", "train", "train", "dev"]


def test_load_meld_rejects_a_csv_without_meld_columns(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="lacks columns"):
        load_meld(tmp_path / "x.csv")


def test_load_reviews_layout(tmp_path):
    with open(tmp_path / "reviews.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["domain", "label", "rating", "text"])
        writer.writerows([["books", 1, 5, "good"], ["dvd", 0, 1, "bad"]])
    np.save(tmp_path / "minilm.npy", np.ones((2, 4), dtype=np.float16))
    data = load_reviews(tmp_path)
    assert data.X.shape == (2, 4) and data.X.dtype == np.float32
    assert data.sample_domain.tolist() == ["books", "dvd"]
    np.save(tmp_path / "minilm.npy", np.ones((3, 4)))
    with pytest.raises(ValueError, match="row i of the embeddings"):
        load_reviews(tmp_path)


def test_combine_domains_stacks_datasets_in_a_common_label_space(mmsa_file, tmp_path):
    path, _ = mmsa_file
    a = load_mmsa(path, split="train")
    b = load_mmsa(path, split="test")
    both = combine_domains({"mosi": a, "mosei": b})
    assert both.X.shape == (10, 13)
    assert set(np.unique(both.y)) <= {0, 1}
    assert both.sample_domain.tolist().count("mosei") == 4
    assert both.sample_group[-1].startswith("mosei/")
    narrower = load_mmsa(path, split="test", modalities=("text",))
    with pytest.raises(ValueError, match="must match"):
        combine_domains({"a": a, "b": narrower})


def test_shared_reviews_data_when_present(shared_data):
    folder = shared_data / "reviews4"
    if not folder.is_dir():
        pytest.skip("shared/data/reviews4 is absent")
    data = load_reviews(folder)
    assert data.X.shape == (8000, 384)
    assert sorted(set(data.sample_domain)) == ["books", "dvd", "electronics", "kitchen"]
    np.testing.assert_allclose(np.linalg.norm(data.X[:50], axis=1), 1.0, atol=1e-2)
