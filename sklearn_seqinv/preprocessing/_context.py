"""GroupContext: what the other rows of a row's group say (the other utterances of a video
or a dialogue), as columns a sequential stage can select or decline."""

import warnings
from numbers import Integral

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._docstring import fill_doc
from .._groups import check_labels, group_order
from ..exceptions import SeqinvWarning

__all__ = ["CONTEXT_SUMMARIES", "GroupContext"]

#: The summaries :class:`GroupContext` can give of a row's group, in output order.
CONTEXT_SUMMARIES = ("mean", "previous", "next")


@fill_doc
class GroupContext(TransformerMixin, BaseEstimator):
    """Summarize, for each row, the other rows of its group: the other utterances of the
    same video or dialogue.

    A speaker's sentiment is shared across the utterances of a video, so what the other
    utterances say is evidence about this one (the contextual models of Poria et al., ACL
    2017, are built on it), but not on every data set: in TV dialogue the other speakers'
    lines may mislead. The context is therefore offered as columns of its own, placed after
    the row's own columns, so that a :class:`~sklearn_seqinv.SequentialModalityClassifier`
    given them as a stage (:meth:`context_modalities`) adds them only when they hold on
    held-out training domains.

    Summaries, per summarized column:

    * ``"mean"``: the mean of the other rows of the group (leave-self-out: the row's own
      value never enters its context);
    * ``"previous"`` and ``"next"``: the mean of the ``window`` rows just before (after) the
      row in its group's order (``sample_order``, else the rows' order in ``X``).

    A row without such rows (alone in its group, the first row for ``"previous"``, the last
    for ``"next"``) gets the column means of the training rows (``fill_values_``), the
    neutral value of an uninformative context. Missing values (NaN) are skipped: a summary
    is the mean of the other rows' values that are present.

    Without ``sample_group`` at ``fit`` (with a warning) every row is its own group and
    every context is the neutral value; fitted with groups, it needs them at ``transform``.

    It is stateless about the groups: each call summarizes the groups of the rows it is
    given, so a new speaker at predict time is summarized from its own rows, which must be
    transformed together. ``sample_group`` (and ``sample_order``) are needed at
    ``transform`` as well as at ``fit``: with scikit-learn's metadata routing on,
    ``GroupContext().set_transform_request(sample_group=True)`` in a ``Pipeline`` gets them
    from ``pipeline.predict(X, sample_group=...)``.

    Parameters
    ----------
    summaries : tuple of {"mean", "previous", "next"}, default=("mean",)
        The summaries to add, each a block of the summarized columns, in this order.
    window : int, default=1
        Rows before (after) a row that ``"previous"`` (``"next"``) averages.
    columns : array-like of int or None, default=None
        The columns of ``X`` to summarize (for example a modality's); ``None``: all.
    passthrough : bool, default=True
        Put the row's own columns before the context blocks (``False``: the blocks alone).

    Attributes
    ----------
    columns_ : ndarray of int
        The summarized columns.
    grouped_ : bool
        Whether ``fit`` was given ``sample_group``.
    fill_values_ : ndarray of shape (n_columns,)
        Their means on the training rows: the value of a summary with nothing to summarize.
    %(features_in)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_seqinv import GroupContext
    >>> X = np.array([[1.0], [3.0], [5.0], [10.0]])
    >>> video = ["a", "a", "a", "b"]
    >>> context = GroupContext(summaries=("mean", "previous")).fit(X, sample_group=video)
    >>> context.transform(X, sample_group=video)
    array([[ 1.  ,  4.  ,  4.75],
           [ 3.  ,  3.  ,  1.  ],
           [ 5.  ,  2.  ,  3.  ],
           [10.  ,  4.75,  4.75]])
    """

    __metadata_request__fit = {"sample_group": True, "sample_order": True}
    __metadata_request__transform = {"sample_group": True, "sample_order": True}

    _parameter_constraints = {
        "summaries": [tuple, list],
        "window": [Interval(Integral, 1, None, closed="left")],
        "columns": ["array-like", None],
        "passthrough": ["boolean"],
    }

    def __init__(self, *, summaries=("mean",), window=1, columns=None, passthrough=True):
        self.summaries = summaries
        self.window = window
        self.columns = columns
        self.passthrough = passthrough

    def _check_summaries(self):
        summaries = list(self.summaries)
        unknown = [s for s in summaries if s not in CONTEXT_SUMMARIES]
        if not summaries or unknown or len(set(summaries)) < len(summaries):
            raise ValueError(
                f"summaries must be a non-empty tuple of distinct names from "
                f"{CONTEXT_SUMMARIES}; got {self.summaries!r}."
            )
        return summaries

    def _check_columns(self, n_features):
        if self.columns is None:
            return np.arange(n_features)
        columns = np.asarray(self.columns)
        if columns.ndim != 1 or not len(columns) or columns.dtype.kind not in "iu":
            raise ValueError(
                f"columns must be a non-empty 1-D array of column indices; got {self.columns!r}."
            )
        if columns.min() < 0 or columns.max() >= n_features or len(set(columns)) < len(columns):
            raise ValueError(
                f"columns must be distinct indices in [0, {n_features}); got {columns.tolist()}."
            )
        return columns

    @fill_doc
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, sample_group=None, sample_order=None):
        """Check the parameters and learn the fill values (the training column means).

        Parameters
        ----------
        %(transformer_fit_rows)s
        sample_group : array-like of shape (n_samples,)
            Group of each row (the video, the dialogue).
        %(sample_order)s

        Returns
        -------
        self : GroupContext
            The fitted transformer.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        self._check_summaries()
        self.columns_ = self._check_columns(X.shape[1])
        self._check_metadata(X, sample_group, sample_order, fitting=True)
        self.grouped_ = sample_group is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: NaN, then 0
            fill = np.nanmean(X[:, self.columns_], axis=0)
        self.fill_values_ = np.where(np.isfinite(fill), fill, 0.0)
        return self

    def fit_transform(self, X, y=None, *, sample_group=None, sample_order=None):
        """:meth:`fit`, then :meth:`transform` of the same rows and groups.

        Parameters
        ----------
        X, y, sample_group, sample_order
            As in :meth:`fit`.

        Returns
        -------
        X_context : ndarray of shape (n_samples, n_features_out)
        """
        self.fit(X, y, sample_group=sample_group, sample_order=sample_order)
        return self.transform(X, sample_group=sample_group, sample_order=sample_order)

    def _check_metadata(self, X, sample_group, sample_order, fitting=False):
        if sample_group is None:
            if fitting or not self.grouped_:
                if fitting:
                    warnings.warn(
                        "GroupContext got no sample_group: every row is its own group, so "
                        "every context is the neutral value. Pass the group (video, "
                        "dialogue) of each row; in a Pipeline, with metadata routing on.",
                        SeqinvWarning,
                        stacklevel=3,
                    )
                return np.arange(X.shape[0]), None
            raise ValueError(
                "GroupContext was fitted with sample_group and needs it at transform too: "
                "the group (video, dialogue) of each row, whose other rows it summarizes. In "
                "a Pipeline, turn metadata routing on (sklearn.set_config("
                "enable_metadata_routing=True)), call set_transform_request(sample_group="
                "True) and pass sample_group to predict."
            )
        group = check_labels(sample_group, "sample_group", X.shape[0])
        order = None
        if sample_order is not None:
            order = check_labels(sample_order, "sample_order", X.shape[0])
        return group, order

    def transform(self, X, *, sample_group=None, sample_order=None):
        """The rows (with ``passthrough``) and, per summary, the summary of their groups'
        other rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to summarize; every row of a group must be in the same call.
        sample_group : array-like of shape (n_samples,)
            Group of each row.
        sample_order : array-like of shape (n_samples,), default=None
            Position of each row in its group; ``None``: the rows' order in ``X``.

        Returns
        -------
        X_context : ndarray of shape (n_samples, n_features_out)
        """
        check_is_fitted(self, "fill_values_")
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], reset=False, ensure_all_finite="allow-nan"
        )
        group, order = self._check_metadata(X, sample_group, sample_order)
        values = X[:, self.columns_].astype(np.float64)
        present = np.isfinite(values)
        values = np.where(present, values, 0.0)
        _, codes = np.unique(group, return_inverse=True)
        codes, ordered = codes.ravel(), None
        blocks = [X] if self.passthrough else []
        for summary in self._check_summaries():
            if summary == "mean":
                sums, counts = self._others(values, present, codes)
            else:
                if ordered is None:  # one sort serves "previous" and "next"
                    ordered = group_order(codes, order, group)
                sums, counts = self._neighbours(values, present, ordered, summary)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = sums / counts
            blocks.append(np.where(counts > 0, mean, self.fill_values_).astype(X.dtype))
        return np.hstack(blocks)

    @staticmethod
    def _others(values, present, codes):
        """Sums and counts of the present values of every row's group (its ``codes``), less
        the row's own."""
        members = sparse.csr_matrix(
            (np.ones(len(codes)), (codes, np.arange(len(codes)))),
            shape=(codes.max() + 1, len(codes)),
        )
        sums = members @ values
        counts = members @ present.astype(np.float64)
        return sums[codes] - values, counts[codes] - present

    def _neighbours(self, values, present, ordered, summary):
        """Sums and counts of the present values of the ``window`` rows before (after) each
        row in its group's order (``ordered``: what ``group_order`` returns)."""
        rows, starts, ends = ordered
        cumulative = np.vstack([np.zeros(values.shape[1]), np.cumsum(values[rows], axis=0)])
        seen = np.vstack([np.zeros(values.shape[1]), np.cumsum(present[rows], axis=0)])
        position = np.arange(len(rows))
        if summary == "previous":
            lo, hi = np.maximum(starts, position - self.window), position
        else:
            lo, hi = position + 1, np.minimum(ends, position + 1 + self.window)
        sums, counts = np.empty_like(values), np.empty_like(values)
        sums[rows] = cumulative[hi] - cumulative[lo]
        counts[rows] = seen[hi] - seen[lo]
        return sums, counts

    def context_modalities(self, modalities, n_features):
        """The modalities of the output: each given one (with ``passthrough``) followed, when
        its columns are all summarized, by ``"<name>_context"``: its columns in every
        summary block (the order a sequential meta-estimator learns them in).

        Parameters
        ----------
        modalities : dict of str to array-like of int
            Modality -> its columns of the input ``X``.
        n_features : int
            Number of columns of the input ``X``.

        Returns
        -------
        modalities : dict of str to ndarray of int
            Columns of the transformed ``X``, ready for the steps of a sequential
            meta-estimator.

        Examples
        --------
        >>> context = GroupContext(summaries=("mean", "next"), columns=[0, 1])
        >>> {k: v.tolist() for k, v in context.context_modalities(
        ...     {"text": [0, 1], "audio": [2]}, 3).items()}
        {'text': [0, 1], 'text_context': [3, 4, 5, 6], 'audio': [2]}
        """
        columns = self._check_columns(n_features)
        where = {c: i for i, c in enumerate(columns.tolist())}
        offset = n_features if self.passthrough else 0
        width, n_blocks = len(columns), len(self._check_summaries())
        out = {}
        for name, cols in modalities.items():
            cols = np.asarray(cols, dtype=int)
            if self.passthrough:
                out[name] = cols
            if not len(cols) or not all(c in where for c in cols.tolist()):
                continue
            inside = np.array([where[c] for c in cols.tolist()])
            out[f"{name}_context"] = np.concatenate(
                [offset + b * width + inside for b in range(n_blocks)]
            )
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: the input's, then ``"<summary>_of_<name>"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input column names; ``feature_names_in_`` or ``x0, x1, ...`` by default.

        Returns
        -------
        names : ndarray of str
        """
        from sklearn.utils.validation import _check_feature_names_in

        check_is_fitted(self, "fill_values_")
        names = _check_feature_names_in(self, input_features)
        out = list(names) if self.passthrough else []
        for summary in self._check_summaries():
            out += [f"{summary}_of_{names[c]}" for c in self.columns_]
        return np.asarray(out, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
