"""Loader for MMSA feature pickles (CMU-MOSI, CMU-MOSEI, CH-SIMS; aligned and unaligned)."""

import numpy as np

from ._base import check_sha256, existing_file, modality_bunch, scores_to_labels
from ._safe_pickle import safe_load_pickle

__all__ = ["load_mmsa", "pool_sequences"]

_SPLITS = ("train", "valid", "test")


def pool_sequences(sequences, lengths=None):
    """Mean-pool (N, T, d) sequences over time, ignoring padding and non-finite values.

    With ``lengths``, the first ``lengths[i]`` steps of row ``i`` count; without, the steps
    that are not all zero (MMSA pads with zeros). ``-inf`` (unaligned COVAREP audio) and NaN
    become 0 first. Rows with no valid step pool to zeros. 2-D input is returned as is.

    Examples
    --------
    >>> seq = np.array([[[1.0, 2.0], [3.0, -np.inf], [0.0, 0.0]]])
    >>> pool_sequences(seq)
    array([[2., 1.]])
    >>> pool_sequences(seq, lengths=[1])
    array([[1., 2.]])
    """
    arr = np.asarray(sequences, dtype=np.float64)
    if arr.ndim == 2:
        return np.where(np.isfinite(arr), arr, 0.0)
    if arr.ndim != 3:
        raise ValueError(f"Expected (N, T, d) sequences or (N, d) features; got {arr.shape}.")
    arr = np.where(np.isfinite(arr), arr, 0.0)
    if lengths is not None:
        lengths = np.asarray(lengths).reshape(-1)
        if lengths.shape[0] != arr.shape[0]:
            raise ValueError(
                f"{lengths.shape[0]} lengths for {arr.shape[0]} sequences; they must match."
            )
        valid = np.arange(arr.shape[1])[None, :] < lengths[:, None]
    else:
        valid = np.abs(arr).sum(axis=2) > 0
    counts = valid.sum(axis=1, keepdims=True)
    return (arr * valid[:, :, None]).sum(axis=1) / np.maximum(counts, 1)


def load_mmsa(
    path,
    split=None,
    *,
    modalities=("text", "vision", "audio"),
    target="regression",
    domain=None,
    sha256=None,
    as_frame=False,
):
    """Load an MMSA feature pickle as utterance-level features.

    The file is read with a restricted unpickler that admits only containers and numpy
    arrays, so a crafted file cannot run code. Sequences are mean-pooled over time, using
    ``<modality>_lengths`` when the (unaligned) file has them.

    Parameters
    ----------
    path : str or Path
        The ``.pkl`` file: a dict with splits ``train`` / ``valid`` / ``test``, each holding
        ``text``, ``vision``, ``audio``, ``id``, ``regression_labels`` and optionally
        ``raw_text`` and ``audio_lengths`` / ``vision_lengths``.
    split : {"train", "valid", "test"} or None, default=None
        One split, or all of them with each row's split in ``split``.
    modalities : sequence of str, default=("text", "vision", "audio")
        Keys to load, in order.
    target : {"regression", "polarity", "polarity3"}, default="regression"
        Scores in ``[-3, 3]``, Has0 binary polarity, or negative / neutral / positive.
    domain : str, "video" or None, default=None
        ``sample_domain`` of every row: the file name without suffix (``None``), this
        string, or ``"video"`` for the video id (the part of ``id`` before ``$_$``).
    sha256 : str or None, default=None
        Expected SHA-256 of the file, checked before reading.

    as_frame : bool, default=False
        Return ``X`` as a pandas DataFrame with ``feature_names`` as columns.

    Returns
    -------
    data : Bunch
        ``X``, ``y``, ``sample_domain``, ``sample_group`` (the video id: clips of one
        video share a speaker and a setting), ``ids``, ``split``, ``modalities`` (name ->
        columns of ``X``), ``feature_names``, ``raw_text``.
    """
    path = existing_file(path, "MMSA feature file")
    check_sha256(path, sha256)
    content = safe_load_pickle(path)
    if not isinstance(content, dict) or not any(s in content for s in _SPLITS):
        raise ValueError(
            f"{path} is not an MMSA feature file: expected a dict with splits {_SPLITS}."
        )
    splits = _SPLITS if split is None else (split,)
    if split is not None and split not in content:
        raise ValueError(f"Split {split!r} is not in {path}; it has {sorted(content)}.")
    blocks = {name: [] for name in modalities}
    scores, ids, split_of, raw_text = [], [], [], []
    for name in (s for s in splits if s in content):
        part = content[name]
        missing = [k for k in (*modalities, "id", "regression_labels") if k not in part]
        if missing:
            raise ValueError(f"Split {name!r} of {path} lacks {missing}.")
        n = len(part["regression_labels"])
        for modality in modalities:
            pooled = pool_sequences(part[modality], part.get(f"{modality}_lengths"))
            if pooled.shape[0] != n:
                raise ValueError(
                    f"Split {name!r} of {path}: {modality} has {pooled.shape[0]} rows for "
                    f"{n} labels."
                )
            blocks[modality].append(pooled)
        scores.append(np.asarray(part["regression_labels"], dtype=np.float64).ravel())
        ids += [str(i) for i in part["id"]]
        split_of += [name] * n
        raw_text += [str(t) for t in part.get("raw_text", [""] * n)]
    y = scores_to_labels(np.concatenate(scores), target)
    videos = [i.split("$_$")[0] for i in ids]
    if domain == "video":
        sample_domain = videos
    else:
        sample_domain = [path.stem if domain is None else domain] * len(ids)
    blocks = {name: np.vstack(parts) for name, parts in blocks.items()}
    return modality_bunch(
        blocks,
        y,
        sample_domain=sample_domain,
        sample_group=videos,
        ids=ids,
        split=split_of,
        raw_text=np.asarray(raw_text, dtype=object),
        as_frame=as_frame,
    )
