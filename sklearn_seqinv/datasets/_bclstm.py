"""Loader for utterance features in the layout of the bc-LSTM code (CMU-MOSI, Poria et al. 2017)."""

import csv
from pathlib import Path

import numpy as np

from ._base import modality_bunch

__all__ = ["BCLSTM_MODALITIES", "load_bclstm"]

#: The modalities of the layout, in the order of ``X`` (the learning order: text first).
BCLSTM_MODALITIES = ("text", "audio", "video")
_SPLITS = ("train", "test")


def _rows(path):
    """The rows of a headerless CSV file, as lists of strings (nothing is evaluated)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return list(csv.reader(handle))


def _numbers(path, rows):
    """``rows`` of ``path`` as a float matrix; a ragged row or non-number names its place."""
    if not rows:
        raise ValueError(f"{path} holds no row.")
    width = len(rows[0])
    out = np.empty((len(rows), width))
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(
                f"{path}, row {i + 1}: {len(row)} values where the first row has {width}."
            )
        try:
            out[i] = [float(value) for value in row]
        except ValueError:
            bad = next(v for v in row if not _is_number(v))
            raise ValueError(f"{path}, row {i + 1}: {bad!r} is not a number.") from None
    if not np.isfinite(out).all():
        i = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
        raise ValueError(f"{path}, row {i + 1}: a value is NaN or infinite.")
    return out


def _is_number(value):
    try:
        float(value)
    except ValueError:
        return False
    return True


def _transcripts(path):
    """Clip ids, texts, video numbers and labels of ``transcripts.csv``."""
    rows = _rows(path)
    for i, row in enumerate(rows):
        if len(row) < 4:
            raise ValueError(
                f"{path}, row {i + 1}: expected clip id, text, video number and label, "
                f"got {len(row)} value(s)."
            )
        if "_" not in row[0]:
            raise ValueError(f"{path}, row {i + 1}: clip id {row[0]!r} is not '<video>_<n>'.")
        if not _is_number(row[3]):
            raise ValueError(f"{path}, row {i + 1}: label {row[3]!r} is not a number.")
    return rows


def _split_files(folder, split):
    """The files of ``split``, or ``None`` when the split is absent from the folder."""
    files = {m: folder / m / f"{m}_{split}0.csv" for m in BCLSTM_MODALITIES}
    index = folder / f"text_{split}.csv"
    present = [f for f in (*files.values(), index) if f.is_file()]
    if not present:
        return None
    missing = [str(f) for f in (*files.values(), index) if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"split {split!r} is incomplete: missing {', '.join(missing)}")
    return files, index


def _read_split(split, files, index, transcripts, transcript_file):
    blocks, labels = {}, None
    for name, path in files.items():
        values = _numbers(path, _rows(path))
        if values.shape[1] < 2:
            raise ValueError(f"{path} needs features and a label column; it has one column.")
        if labels is not None and len(values) != len(labels):
            raise ValueError(
                f"{path} has {len(values)} rows but {files['text']} has {len(labels)}; row i "
                "must be the same utterance in every modality file."
            )
        if labels is not None and not np.array_equal(values[:, -1], labels):
            i = int(np.flatnonzero(values[:, -1] != labels)[0])
            raise ValueError(
                f"{path}, row {i + 1}: label {values[i, -1]:g} disagrees with "
                f"{files['text']} ({labels[i]:g})."
            )
        labels = values[:, -1]
        blocks[name] = values[:, :-1]
    rows = _rows(index)
    if len(rows) != len(labels):
        raise ValueError(
            f"{index} has {len(rows)} rows but the {split} feature files have {len(labels)}."
        )
    positions = []
    for i, row in enumerate(rows):
        try:
            position = float(row[0])
        except (ValueError, IndexError):
            raise ValueError(f"{index}, row {i + 1}: {row[:1]} is not a row number.") from None
        if position != int(position) or not 0 <= position < len(transcripts):
            raise ValueError(
                f"{index}, row {i + 1}: {row[0]!r} is not a row of {transcript_file} "
                f"(0 to {len(transcripts) - 1})."
            )
        position = int(position)
        if float(transcripts[position][3]) != labels[i]:
            raise ValueError(
                f"{index}, row {i + 1}: the label of {transcript_file} row {position + 1} "
                f"({transcripts[position][3]}) disagrees with the features' ({labels[i]:g})."
            )
        positions.append(position)
    return blocks, labels, positions


def _speaker_groups(videos, split, n_domains):
    """Videos dealt round-robin, in sorted order, into ``n_domains`` groups of this split."""
    unique = sorted(set(videos))
    group = {video: f"{split}/group{i % n_domains}" for i, video in enumerate(unique)}
    return [group[video] for video in videos]


def _utterance_number(clip):
    """The utterance number of a clip id ``<video>_<n>`` (its order in the video)."""
    tail = clip.rsplit("_", 1)[1]
    return int(tail) if tail.isdigit() else tail


def load_bclstm(path, *, n_domains=4, as_frame=False):
    """Load utterance features in the layout of the bc-LSTM code (CMU-MOSI).

    The layout distributed with the bc-LSTM code of Poria et al. (ACL 2017): for each split
    (``train``, ``test``) three headerless CSV files ``text/text_<split>0.csv``,
    ``audio/audio_<split>0.csv`` and ``video/video_<split>0.csv`` (one row per utterance, the
    features then the label; row ``i`` is the same utterance in all three), a file
    ``text_<split>.csv`` whose column 0 is the row (from 0) of ``transcripts.csv`` that
    utterance ``i`` belongs to, and ``transcripts.csv`` (clip id ``<video>_<n>``, text,
    video number, label). Every split present is read; a folder with only a test split
    reads too. Files are parsed as plain CSV text: nothing in them is ever executed.

    Each video is one speaker, so the split is a domain-generalization protocol (fit on the
    train speakers, score on the test speakers). In these features the train split is
    label-leaky (the extractors were trained on its labels): only train -> test scores mean
    anything.

    Parameters
    ----------
    path : str or Path
        The folder.
    n_domains : int, default=4
        Speaker groups per split, the ``sample_domain`` labels: the split's videos, in sorted
        order of their ids, are dealt round-robin into ``n_domains`` groups named
        ``"<split>/group<k>"`` (deterministic; fewer when the split has fewer videos).

    as_frame : bool, default=False
        Return ``X`` as a pandas DataFrame with ``feature_names`` as columns.

    Returns
    -------
    data : Bunch
        ``X`` (text, audio, video columns side by side, in :data:`BCLSTM_MODALITIES` order),
        ``y`` (1 positive, 0 negative), ``modalities`` (name -> columns of ``X``),
        ``feature_names``, ``ids`` (clip ids), ``split``, ``raw_text`` (the transcripts),
        ``sample_group`` (the video, i.e. the speaker) and ``sample_domain`` (the speaker
        groups); for :class:`~sklearn_seqinv.GroupContext`, ``context_group`` (the video)
        and ``sample_order`` (the utterance's number in its video, from its clip id).

    Examples
    --------
    The features are distributed with the bc-LSTM code (the public repository
    ``declare-lab/multimodal-deep-learning``, folder ``bc-LSTM/data``); point ``path`` at
    a copy of its MOSI folder:

    >>> from sklearn_seqinv.datasets import load_bclstm
    >>> data = load_bclstm("bc-LSTM/data/mosi")  # doctest: +SKIP
    >>> sorted(set(data.split)), list(data.modalities)  # doctest: +SKIP
    (['test', 'train'], ['text', 'audio', 'video'])
    """
    if not isinstance(n_domains, int) or isinstance(n_domains, bool) or n_domains < 1:
        raise ValueError(f"n_domains must be a positive integer, got {n_domains!r}.")
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"bc-LSTM feature folder not found: {folder}")
    transcript_file = folder / "transcripts.csv"
    if not transcript_file.is_file():
        raise FileNotFoundError(f"transcripts.csv not found in {folder}")
    splits = {s: found for s in _SPLITS if (found := _split_files(folder, s)) is not None}
    if not splits:
        raise FileNotFoundError(
            f"{folder} holds no split: expected text/text_train0.csv or text/text_test0.csv "
            "with their audio, video and text_<split>.csv files"
        )
    transcripts = _transcripts(transcript_file)
    blocks = {m: [] for m in BCLSTM_MODALITIES}
    y, positions, split_of, domains = [], [], [], []
    for split, (files, index) in splits.items():
        part, labels, where = _read_split(split, files, index, transcripts, transcript_file)
        widths = {m: b[0].shape[1] for m, b in blocks.items() if b}
        for name, block in part.items():
            if name in widths and block.shape[1] != widths[name]:
                raise ValueError(
                    f"{files[name]} has {block.shape[1]} features; the earlier split's "
                    f"{name} files have {widths[name]}."
                )
            blocks[name].append(block)
        y.append(labels)
        positions += where
        split_of += [split] * len(labels)
        videos = [transcripts[p][0].rsplit("_", 1)[0] for p in where]
        domains += _speaker_groups(videos, split, n_domains)
    labels = np.concatenate(y)
    return modality_bunch(
        {m: np.vstack(b) for m, b in blocks.items()},
        labels.astype(np.int64) if np.all(labels == np.round(labels)) else labels,
        sample_domain=domains,
        sample_group=[transcripts[p][0].rsplit("_", 1)[0] for p in positions],
        context_group=np.asarray([transcripts[p][0].rsplit("_", 1)[0] for p in positions]),
        sample_order=np.asarray([_utterance_number(transcripts[p][0]) for p in positions]),
        ids=[transcripts[p][0] for p in positions],
        split=split_of,
        raw_text=np.asarray([transcripts[p][1] for p in positions], dtype=object),
        as_frame=as_frame,
    )
