"""Loader for MELD transcripts (CSV) and MELD-style feature pickles."""

import csv
from pathlib import Path

import numpy as np

from ._base import POLARITY_NAMES, existing_file, modality_bunch, polarity_of_classes
from ._safe_pickle import safe_load_pickle

__all__ = ["load_meld"]

_FILES = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
_REQUIRED = ("Utterance", "Sentiment", "Dialogue_ID", "Utterance_ID")


def _utterance_ids(rows):
    """Every row's ``Utterance_ID`` as an integer, or a ``ValueError`` naming a bad one."""
    out = np.empty(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        value = row["Utterance_ID"]
        if not str(value).strip().isdigit():
            raise ValueError(
                f"Utterance_ID {value!r} (dialogue {row['Dialogue_ID']!r}) is not a "
                "non-negative integer: it gives the utterance's place in its dialogue."
            )
        out[i] = int(value)
    return out


def _read_rows(path):
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} is not a MELD transcript CSV: it lacks columns {missing}.")
        return list(reader)


def _feature_tables(path, splits):
    """A MELD feature pickle as ``{split: {"<dialogue>_<utterance>": vector}}``."""
    content = safe_load_pickle(path)
    if isinstance(content, dict):
        return dict.fromkeys(splits, content)
    if isinstance(content, (list, tuple)) and len(content) == 3:
        if all(isinstance(part, dict) for part in content):
            return dict(zip(("train", "dev", "test"), content))
    raise ValueError(
        f"{path} is not a MELD feature pickle: expected a dict keyed '<dialogue>_<utterance>' "
        "or a (train, dev, test) tuple of such dicts."
    )


def load_meld(path, *, features=None, target="sentiment", domain="season", as_frame=False):
    """Load MELD transcripts, optionally with pre-extracted utterance features.

    Parameters
    ----------
    path : str or Path
        A ``*_sent_emo.csv`` file, or a folder holding ``train_sent_emo.csv``,
        ``dev_sent_emo.csv`` and ``test_sent_emo.csv``.
    features : dict of str to path, default=None
        Modality name -> a feature pickle (read with the restricted unpickler) mapping
        ``"<Dialogue_ID>_<Utterance_ID>"`` to a vector, or a ``(train, dev, test)`` tuple of
        such dicts (MELD's released layout). Without it, ``X`` holds the raw utterances in
        one ``text`` column, ready for :class:`~sklearn_seqinv.text.SentenceEncoder`.
    target : {"sentiment", "polarity", "emotion"}, default="sentiment"
        Labels: negative / neutral / positive as 0 / 1 / 2, Has0-style binary polarity
        (neutral counts as non-negative), or the emotion names.
    domain : {"season", "split"} or str, default="season"
        ``sample_domain``: the TV season (a sub-population of the show), the file's split,
        or this string for every row.

    as_frame : bool, default=False
        Return ``X`` as a pandas DataFrame with ``feature_names`` as columns.

    Returns
    -------
    data : Bunch
        ``X``, ``y``, ``sample_domain``, ``sample_group`` (the episode, or the dialogue
        when the CSV has no Season / Episode), ``ids``, ``split``, ``modalities``,
        ``feature_names``, ``raw_text``; for :class:`~sklearn_seqinv.GroupContext`,
        ``context_group`` (the dialogue, ``"<split>/<Dialogue_ID>"``) and ``sample_order``
        (``Utterance_ID``, the utterance's place in its dialogue).
    """
    path = Path(path)
    if path.is_dir():
        files = {s: path / f for s, f in _FILES.items() if (path / f).is_file()}
        if not files:
            raise FileNotFoundError(f"No MELD CSV ({', '.join(_FILES.values())}) in {path}.")
    else:
        existing_file(path, "MELD CSV")
        split = next((s for s, f in _FILES.items() if path.name == f), path.stem)
        files = {split: path}
    rows, split_of = [], []
    for split, file in files.items():
        part = _read_rows(file)
        rows += part
        split_of += [split] * len(part)
    if not rows:
        raise ValueError(f"{path} holds no utterance.")
    keys = [f"{r['Dialogue_ID']}_{r['Utterance_ID']}" for r in rows]
    ids = [f"{s}/{k}" for s, k in zip(split_of, keys)]
    text = np.asarray([r["Utterance"] for r in rows], dtype=object)
    y = _labels(rows, target)
    if domain == "season":
        if "Season" not in rows[0]:
            raise ValueError("domain='season' needs a Season column; use domain='split'.")
        sample_domain = [f"season{r['Season']}" for r in rows]
    elif domain == "split":
        sample_domain = split_of
    else:
        sample_domain = [domain] * len(rows)
    # Sub-groups: the episode where the CSV names it, else the dialogue.
    if "Season" in rows[0] and "Episode" in rows[0]:
        sample_group = [f"s{r['Season']}e{r['Episode']}" for r in rows]
    else:
        sample_group = [f"{s}/{r['Dialogue_ID']}" for s, r in zip(split_of, rows)]
    if features is None:
        blocks = {"text": text.reshape(-1, 1)}
    else:
        blocks = {}
        for name, file in features.items():
            tables = _feature_tables(file, files)
            try:
                vectors = [np.ravel(tables[s][k]) for s, k in zip(split_of, keys)]
            except KeyError as exc:
                raise ValueError(f"{file} has no feature for utterance {exc}.") from None
            blocks[name] = np.vstack(vectors).astype(np.float64)
    return modality_bunch(
        blocks,
        y,
        sample_domain=sample_domain,
        sample_group=sample_group,
        context_group=np.asarray([f"{s}/{r['Dialogue_ID']}" for s, r in zip(split_of, rows)]),
        sample_order=_utterance_ids(rows),
        ids=ids,
        split=split_of,
        raw_text=text,
        as_frame=as_frame,
    )


def _labels(rows, target):
    if target == "emotion":
        return np.asarray([r.get("Emotion", "") for r in rows], dtype=object)
    try:
        classes = np.asarray([POLARITY_NAMES[r["Sentiment"].strip().lower()] for r in rows])
    except KeyError as exc:
        expected = list(POLARITY_NAMES)
        raise ValueError(f"Unknown MELD sentiment {exc}; expected {expected}.") from None
    if target == "sentiment":
        return classes
    if target == "polarity":
        return polarity_of_classes(classes)
    raise ValueError(f"Unknown target {target!r}; expected 'sentiment', 'polarity' or 'emotion'.")
