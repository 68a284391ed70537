"""``load_dataset``: the embedded default dataset, or a data path in any supported layout."""

from pathlib import Path

import numpy as np

from ._bclstm import load_bclstm
from ._combine import combine_domains
from ._generator import make_multimodal_domains, simulate_video
from ._meld import load_meld
from ._mmsa import load_mmsa
from ._reviews import load_reviews

#: The embedded default dataset: MOSI widths (text 768, video 20, audio 5), four domains,
#: scores in [-3, 3]; text carries most of the invariant signal, video most of the spurious.
DEFAULT_DATA = dict(
    modalities="mosi",
    n_domains=4,
    n_invariant={"text": 16, "video": 3, "audio": 2},
    n_redundant={"text": 0, "video": 3, "audio": 1},
    n_spurious={"text": 2, "video": 6, "audio": 1},
    spurious_strength=0.75,
    task="regression",
)


def _fold_domains(labels, k):
    """Group many sub-population labels (video ids) into ``k`` domains, deterministically."""
    unique = sorted(set(labels))
    group = {label: f"group{i % k}" for i, label in enumerate(unique)}
    return np.asarray([group[label] for label in labels])


def _with_video(data, seed):
    video = simulate_video(data.y, data.sample_domain, random_state=seed)
    data.X = np.hstack([np.asarray(data.X, dtype=np.float64), video])
    width = data.X.shape[1] - video.shape[1]
    data.modalities = {"text": np.arange(width), "video": np.arange(width, data.X.shape[1])}
    return data


def _classes_only(task, why):
    if task == "regression":
        raise ValueError(f"task='regression' does not apply to this data: {why}")


def load_dataset(source=None, *, task=None, text_only=False, n_samples=1600, random_state=0):
    """Load the embedded default dataset, or data from paths in any supported layout.

    Parameters
    ----------
    source : None, "default", str, Path or list of them, default=None
        ``None`` / ``"default"``: the embedded generated dataset (:data:`DEFAULT_DATA`: MOSI
        widths, four domains, scores in ``[-3, 3]``). Otherwise one or more paths: MMSA
        ``.pkl`` files (one file: its videos grouped into four domains; several: one domain
        each), a folder with ``reviews.csv`` and ``minilm.npy`` (the multi-domain reviews),
        a folder of MELD ``*_sent_emo.csv`` transcripts (embedded with
        :class:`~sklearn_seqinv.text.SentenceEncoder`), or a folder in the bc-LSTM layout
        (``transcripts.csv`` beside ``text/``, ``audio/`` and ``video/``: CMU-MOSI features,
        read by :func:`load_bclstm`). Text-only data gets a simulated video modality
        (:func:`simulate_video`) unless ``text_only``.
    task : {"classification", "regression"} or None, default=None
        What to learn; ``None`` takes what the data holds (scores for MMSA and the default
        data, classes for reviews, MELD and bc-LSTM features).
    text_only : bool, default=False
        Keep text-only data text-only (no simulated video).
    n_samples : int, default=1600
        Rows of the default dataset.
    random_state : int, default=0
        Seed of the default dataset and of the simulated video.

    Returns
    -------
    data : Bunch
        The loader Bunch (``X``, ``y``, ``sample_domain``, ``modalities``, ...) with ``task``
        and a one-line ``description``; data whose own train/test split is the protocol
        (bc-LSTM features) also has ``protocols = ("official_split",)``.

    Examples
    --------
    >>> from sklearn_seqinv.datasets import load_dataset
    >>> data = load_dataset(n_samples=200)
    >>> data.X.shape, data.task, sorted(data.modalities)
    ((200, 793), 'regression', ['audio', 'text', 'video'])
    """
    if source is None or (isinstance(source, str) and source == "default"):
        if task is not None or text_only:
            raise ValueError(
                "task and text_only apply only to data paths; the embedded default data has "
                "scores in [-3, 3] and three modalities"
            )
        data = make_multimodal_domains(
            n_samples=n_samples, random_state=random_state, **DEFAULT_DATA
        )
        data.task = "regression"
        data.description = (
            f"generated, MOSI widths, {n_samples} rows, 4 domains, scores in [-3, 3] "
            f"(seed {random_state})"
        )
        return data
    paths = [Path(p) for p in ([source] if isinstance(source, (str, Path)) else source)]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
    if all(p.suffix == ".pkl" for p in paths):
        data = _load_mmsa_files(paths, task, text_only)
    elif len(paths) == 1 and (paths[0] / "reviews.csv").is_file():
        _classes_only(task, "the reviews labels are positive / negative classes")
        data = load_reviews(paths[0])
        data.task = "classification"
        data = data if text_only else _with_video(data, random_state)
    elif len(paths) == 1 and (paths[0] / "transcripts.csv").is_file():
        _classes_only(task, "the bc-LSTM features carry positive / negative labels")
        if text_only:
            raise ValueError(
                "text_only applies to text-only data; the bc-LSTM folder brings its own audio "
                "and video"
            )
        data = load_bclstm(paths[0])
        data.task = "classification"
        # Its features are label-leaky inside the train split: only train -> test counts.
        data.protocols = ("official_split",)
    elif len(paths) == 1 and paths[0].is_dir() and any(paths[0].glob("*_sent_emo.csv")):
        from ..text import SentenceEncoder

        _classes_only(task, "MELD's sentiment labels are classes")
        data = load_meld(paths[0], target="sentiment")
        data.X = SentenceEncoder(verbose=1).fit_transform(data.raw_text)
        data.modalities = {"text": np.arange(data.X.shape[1])}
        data.task = "classification"
        data = data if text_only else _with_video(data, random_state)
    else:
        raise ValueError(
            "the data takes MMSA .pkl files, a folder with reviews.csv (the multi-domain "
            "reviews layout), a bc-LSTM feature folder (transcripts.csv with text/, audio/, "
            "video/), or a folder of MELD *_sent_emo.csv files"
        )
    data.description = ", ".join(str(p) for p in paths)
    return data


def _load_mmsa_files(paths, task, text_only):
    if text_only:
        raise ValueError(
            "text_only applies to text-only data (the reviews folder, MELD transcripts), "
            "which gets a simulated video otherwise; MMSA files bring their own vision and "
            "audio: select modalities before saving the file instead"
        )
    task = task or "regression"
    target = "regression" if task == "regression" else "polarity"
    if len(paths) == 1:
        data = load_mmsa(paths[0], target=target, domain="video")
        data.sample_domain = _fold_domains(data.sample_domain, 4)
    else:
        data = combine_domains({p.stem: load_mmsa(p, target=target) for p in paths}, target=target)
    data.task = task
    return data
