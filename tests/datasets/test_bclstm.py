"""load_bclstm on small folders written here in the bc-LSTM layout, hostile ones too."""

import csv

import pytest

from sklearn_seqinv.datasets import load_bclstm, load_dataset


def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture
def layout(tmp_path, make_bclstm_folder):
    return make_bclstm_folder(tmp_path / "mosi")


def test_reads_both_splits_in_text_audio_video_order(layout):
    data = load_bclstm(layout, n_domains=2)
    assert data.X.shape == (24 + 9, 4 + 3 + 5)
    assert list(data.modalities) == ["text", "audio", "video"]
    assert [len(c) for c in data.modalities.values()] == [4, 3, 5]
    assert (data.split == "train").sum() == 24 and (data.split == "test").sum() == 9
    assert set(data.y) <= {0, 1} and data.y.dtype.kind == "i"


def test_speaker_is_the_group_and_groups_are_dealt_round_robin(layout):
    data = load_bclstm(layout, n_domains=2)
    assert all(clip.rsplit("_", 1)[0] == video for clip, video in zip(data.ids, data.sample_group))
    train = data.split == "train"
    # v0, v2, v4 -> group0; v1, v3, v5 -> group1: whole speakers, never split.
    for video, domain in zip(data.sample_group[train], data.sample_domain[train]):
        assert domain == f"train/group{int(video[1]) % 2}"
    assert set(data.sample_domain[~train]) == {"test/group0", "test/group1"}


def test_the_video_and_the_utterance_number_give_the_context_order(layout):
    data = load_bclstm(layout)
    assert (data.context_group == data.sample_group).all()
    assert [f"{v}_{n}" for v, n in zip(data.context_group, data.sample_order)] == list(data.ids)


def test_rows_match_their_transcripts(layout):
    data = load_bclstm(layout)
    with open(layout / "transcripts.csv", newline="") as handle:
        by_id = {row[0]: row for row in csv.reader(handle)}
    for clip, text, label in zip(data.ids, data.raw_text, data.y):
        assert by_id[clip][1] == text and int(by_id[clip][3]) == label


def test_a_folder_with_only_a_test_split_reads(tmp_path, make_bclstm_folder):
    data = load_bclstm(make_bclstm_folder(tmp_path / "t", splits=("test",)))
    assert set(data.split) == {"test"} and data.X.shape[0] == 9


def test_load_dataset_detects_the_layout_and_its_protocol(layout):
    data = load_dataset(layout)
    assert data.task == "classification" and data.protocols == ("official_split",)
    with pytest.raises(ValueError, match="regression"):
        load_dataset(layout, task="regression")


def _replace_cell(path, row, col, value):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if col is None:
        rows[row] = value
    else:
        rows[row][col] = value
    write_csv(path, rows)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: (f / "video" / "video_train0.csv").unlink(), r"incomplete.*video_train0"),
        (lambda f: (f / "transcripts.csv").unlink(), "transcripts.csv not found"),
        (
            lambda f: _replace_cell(f / "audio" / "audio_train0.csv", 2, None, ["1.0", "2.0"]),
            r"audio_train0.csv, row 3: 2 values where the first row has 4",
        ),
        (
            lambda f: _replace_cell(f / "video" / "video_test0.csv", 1, 0, "__import__('os')"),
            r"video_test0.csv, row 2: .*__import__.* is not a number",
        ),
        (
            lambda f: _replace_cell(f / "text" / "text_train0.csv", 0, 1, "nan"),
            r"text_train0.csv, row 1: a value is NaN",
        ),
        (
            lambda f: _replace_cell(f / "text_train.csv", 5, 0, "999"),
            r"text_train.csv, row 6: '999' is not a row of .*transcripts.csv",
        ),
        (
            lambda f: _replace_cell(f / "transcripts.csv", 0, 0, "no-underscore"),
            r"transcripts.csv, row 1: clip id 'no-underscore'",
        ),
    ],
    ids=["missing file", "no transcripts", "ragged", "code", "nan", "bad index", "bad clip"],
)
def test_hostile_or_broken_files_are_refused_naming_file_and_row(layout, edit, message):
    edit(layout)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_bclstm(layout)


def test_disagreeing_labels_are_refused(layout):
    path = layout / "audio" / "audio_train0.csv"
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    rows[3][-1] = str(1.0 - float(rows[3][-1]))
    write_csv(path, rows)
    with pytest.raises(ValueError, match=r"audio_train0.csv, row 4: label .* disagrees"):
        load_bclstm(layout)


def test_disagreeing_row_counts_are_refused(layout):
    path = layout / "video" / "video_test0.csv"
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    write_csv(path, rows[:-1])
    with pytest.raises(ValueError, match=r"video_test0.csv has 8 rows but"):
        load_bclstm(layout)


def test_bad_n_domains_is_refused(layout):
    with pytest.raises(ValueError, match="n_domains must be a positive integer"):
        load_bclstm(layout, n_domains=0)


def test_shared_mosi_reads_with_speaker_groups(shared_data):
    if not (shared_data / "mosi").is_dir():
        pytest.skip("../shared/data/mosi is absent")
    data = load_bclstm(shared_data / "mosi")
    assert data.X.shape == (1773, 273)
    assert (data.split == "train").sum() == 1447
    assert len(set(data.sample_group[data.split == "train"])) == 62
    assert len(set(data.sample_group[data.split == "test"])) == 16


def test_feature_names_index_by_modality_and_flow_through_a_pipeline(layout):
    import numpy as np
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_seqinv import InvariantMaskSelector

    data = load_bclstm(layout, n_domains=2)
    assert list(data.feature_names[data.modalities["text"]]) == [f"text_{j}" for j in range(4)]
    frame = load_bclstm(layout, n_domains=2, as_frame=True)
    assert list(frame.X.columns) == list(data.feature_names)
    np.testing.assert_array_equal(frame.X.to_numpy(), data.X)
    pipe = make_pipeline(StandardScaler(), InvariantMaskSelector(max_epochs=2, random_state=0))
    pipe.fit(frame.X, frame.y, invariantmaskselector__sample_domain=frame.sample_domain)
    names = pipe.get_feature_names_out()
    assert len(names) and set(names) <= set(data.feature_names)
