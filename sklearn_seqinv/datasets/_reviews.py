"""Loader for the multi-domain reviews layout (Blitzer et al., 2007: four product domains)."""

import csv
from pathlib import Path

import numpy as np

from ._base import existing_file, modality_bunch

__all__ = ["load_reviews"]


def load_reviews(path, *, embeddings="minilm.npy", as_frame=False):
    """Load multi-domain product reviews with their sentence embeddings.

    The layout of Blitzer et al.'s Multi-Domain Sentiment Dataset (books, dvd, electronics,
    kitchen): a folder with ``reviews.csv`` (``domain, label, rating, text``) and an
    ``(n, d)`` embedding array whose row ``i`` embeds CSV row ``i``. Each product category
    is a domain.

    Parameters
    ----------
    path : str or Path
        The folder.
    embeddings : str, default="minilm.npy"
        File name of the embeddings (loaded with ``allow_pickle=False``).

    as_frame : bool, default=False
        Return ``X`` as a pandas DataFrame with ``feature_names`` as columns.

    Returns
    -------
    data : Bunch
        ``X`` (embeddings, the ``text`` modality), ``y`` (1 positive, 0 negative),
        ``sample_domain`` (category), ``ids``, ``split`` (``"all"``), ``modalities``,
        ``feature_names``, ``raw_text``, ``rating``.
    """
    folder = Path(path)
    table = existing_file(folder / "reviews.csv", "reviews.csv")
    array_file = existing_file(folder / embeddings, "embedding file")
    with open(table, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"domain", "label", "text"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{table} lacks columns {sorted(missing)}.")
        rows = list(reader)
    try:
        X = np.load(array_file, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{array_file} is not a plain numeric .npy array.") from exc
    if X.ndim != 2 or X.shape[0] != len(rows):
        raise ValueError(
            f"{array_file} has shape {X.shape} but {table} has {len(rows)} rows; row i of the "
            "embeddings must embed row i of the CSV."
        )
    y = np.asarray([int(r["label"]) for r in rows])
    return modality_bunch(
        {"text": X.astype(np.float32)},
        y,
        sample_domain=[r["domain"] for r in rows],
        ids=[str(i) for i in range(len(rows))],
        split=["all"] * len(rows),
        raw_text=np.asarray([r["text"] for r in rows], dtype=object),
        rating=np.asarray([float(r.get("rating") or "nan") for r in rows]),
        as_frame=as_frame,
    )
