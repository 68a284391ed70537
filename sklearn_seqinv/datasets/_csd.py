"""Loader for CMU Multimodal SDK computational sequences (``.csd``, HDF5; needs h5py)."""

from pathlib import Path

import numpy as np

from ._base import existing_file, modality_bunch, scores_to_labels

__all__ = ["load_csd"]


def _read_csd(path):
    """``{video_id: (features (n, d), intervals (n, 2))}`` from one ``.csd`` file."""
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("load_csd needs h5py: pip install 'sklearn-seqinv[hdf5]'.") from exc
    path = existing_file(path, "CSD file")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 file (truncated or corrupt).") from exc
    with handle:
        roots = list(handle.keys())
        if len(roots) != 1 or "data" not in handle[roots[0]]:
            raise ValueError(
                f"{path} is not a CSD file: expected one root group holding data/; found {roots}."
            )
        entries = {}
        for video, group in handle[roots[0]]["data"].items():
            if "features" not in group or "intervals" not in group:
                raise ValueError(f"{path}: data/{video} lacks features or intervals.")
            features = np.asarray(group["features"][()], dtype=np.float64)
            intervals = np.asarray(group["intervals"][()], dtype=np.float64)
            if features.ndim != 2 or intervals.shape != (features.shape[0], 2):
                raise ValueError(
                    f"{path}: data/{video} has features {features.shape} and intervals "
                    f"{intervals.shape}; expected (n, d) and (n, 2)."
                )
            entries[video] = (features, intervals)
    return entries


def _pool_interval(features, intervals, start, end, width):
    overlap = (intervals[:, 0] < end) & (intervals[:, 1] > start)
    if not overlap.any():
        return np.zeros(width)
    frames = features[overlap]
    return np.where(np.isfinite(frames), frames, 0.0).mean(axis=0)


def load_csd(features, labels, *, target="regression", domain=None, as_frame=False):
    """Load CMU Multimodal SDK ``.csd`` files as segment-level features.

    Each labelled segment (a row of the labels file: an interval of a video) becomes a row;
    each modality's frames that overlap the segment's interval are mean-pooled (non-finite
    values count as 0, a segment with no frame gets zeros).

    Parameters
    ----------
    features : dict of str to path
        Modality name -> its ``.csd`` file (e.g. ``{"text": ..., "video": ...}``).
    labels : str or Path
        The labels ``.csd``; the first column of ``features`` is the sentiment score.
    target : {"regression", "polarity", "polarity3"}, default="regression"
        Label space (see :func:`load_mmsa`).
    domain : str or None, default=None
        ``sample_domain`` of every row; ``None`` uses the labels file name.

    as_frame : bool, default=False
        Return ``X`` as a pandas DataFrame with ``feature_names`` as columns.

    Returns
    -------
    data : Bunch
        ``X``, ``y``, ``sample_domain``, ``sample_group`` (the video), ``ids``
        (``"<video>[<segment>]"``), ``split``
        (``"all"``), ``modalities``, ``feature_names``.
    """
    label_entries = _read_csd(labels)
    streams = {name: _read_csd(path) for name, path in features.items()}
    widths = {}
    for name, entries in streams.items():
        dims = {f.shape[1] for f, _ in entries.values()}
        if len(dims) > 1:
            raise ValueError(f"Modality {name!r} has videos of different widths {sorted(dims)}.")
        widths[name] = dims.pop() if dims else 0
    blocks = {name: [] for name in streams}
    scores, ids, videos = [], [], []
    for video, (values, intervals) in label_entries.items():
        for j, ((start, end), value) in enumerate(zip(intervals, values[:, 0])):
            for name, entries in streams.items():
                if video in entries:
                    row = _pool_interval(*entries[video], start, end, widths[name])
                else:
                    row = np.zeros(widths[name])
                blocks[name].append(row)
            scores.append(value)
            ids.append(f"{video}[{j}]")
            videos.append(video)
    if not ids:
        raise ValueError(f"{labels} holds no labelled segment.")
    y = scores_to_labels(np.asarray(scores), target)
    name = Path(labels).stem if domain is None else domain
    return modality_bunch(
        {k: np.vstack(v) for k, v in blocks.items()},
        y,
        sample_domain=[name] * len(ids),
        sample_group=videos,
        ids=ids,
        split=["all"] * len(ids),
        as_frame=as_frame,
    )
