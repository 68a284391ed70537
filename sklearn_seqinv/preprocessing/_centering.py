"""DomainCenterer: every domain's rows centred by that domain's own column means."""

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._docstring import fill_doc
from .._validation import check_sample_domain

__all__ = ["DomainCenterer"]


def _means(rows):
    """Column means of ``rows``, ignoring NaN (an all-NaN column's mean is NaN, silently)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(rows, axis=0)


@fill_doc
class DomainCenterer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Centre the rows of every domain by that domain's own column means.

    For data that come in batches per domain (a camera, a show, a speaker's recording set),
    a style shift that moves every column of a domain by the same offset disappears: at
    ``fit`` each training domain's means are learnt and subtracted, and at ``transform`` a
    domain seen in ``fit`` is centred by its learnt means, a new domain by the means of its
    own rows in the call (so its rows must arrive together, at least ``min_rows`` of them).
    What it costs: a domain's mean also holds its share of positives, so where labels shift
    between domains (one speaker more positive than another) centring removes real signal
    (``benchmarks/bench_mosi.py`` measures it on CMU-MOSI). Off unless put in a pipeline.

    It needs ``sample_domain`` at ``transform`` as well as at ``fit``: with scikit-learn's
    metadata routing on, ``DomainCenterer().set_transform_request(sample_domain=True)`` in a
    ``Pipeline`` gets it from ``pipeline.predict(X, sample_domain=...)``. Without any
    ``sample_domain`` every row is one domain, and it is a ``StandardScaler(with_std=False)``.

    Parameters
    ----------
    min_rows : int, default=10
        Fewest rows a new domain may bring to ``transform`` (its mean is estimated from them).

    Attributes
    ----------
    domains_ : ndarray
        Domain labels seen in ``fit``.
    means_ : ndarray of shape (n_domains, n_features)
        Column means of every training domain.
    single_domain_ : bool
        Whether ``fit`` was given no ``sample_domain`` (every row one domain).
    %(features_in)s

    Examples
    --------
    >>> from sklearn_seqinv import DomainCenterer
    >>> X, domain = [[1.0], [3.0], [10.0], [12.0]], ["a", "a", "b", "b"]
    >>> centerer = DomainCenterer(min_rows=2).fit(X, sample_domain=domain)
    >>> centerer.transform(X, sample_domain=domain).ravel().tolist()
    [-1.0, 1.0, -1.0, 1.0]
    >>> centerer.transform([[5.0], [9.0]], sample_domain=["new", "new"]).ravel().tolist()
    [-2.0, 2.0]
    """

    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__transform = {"sample_domain": True}

    _parameter_constraints = {"min_rows": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, *, min_rows=10):
        self.min_rows = min_rows

    @fill_doc
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, sample_domain=None):
        """Learn every training domain's column means.

        Parameters
        ----------
        %(transformer_fit_rows)s
        sample_domain : array-like of shape (n_samples,), default=None
            Domain label of each row; ``None``: one domain.

        Returns
        -------
        self : DomainCenterer
            The fitted transformer.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        codes, self.domains_ = check_sample_domain(sample_domain, X.shape[0])
        self.means_ = np.stack([_means(X[codes == c]) for c in range(len(self.domains_))])
        self.single_domain_ = sample_domain is None
        return self

    def fit_transform(self, X, y=None, *, sample_domain=None):
        """:meth:`fit`, then :meth:`transform` of the same rows with the same domains.

        Parameters
        ----------
        X, y, sample_domain
            As in :meth:`fit`.

        Returns
        -------
        X_centred : ndarray of shape (n_samples, n_features)
        """
        return self.fit(X, y, sample_domain=sample_domain).transform(X, sample_domain=sample_domain)

    def transform(self, X, *, sample_domain=None):
        """Subtract from each row its domain's means (learnt, or of the new domain's rows).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to centre.
        sample_domain : array-like of shape (n_samples,), default=None
            Domain label of each row; required when ``fit`` was given domains.

        Returns
        -------
        X_centred : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "means_")
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            reset=False,
            copy=True,
            ensure_all_finite="allow-nan",
        )
        if sample_domain is None:
            if not self.single_domain_:
                raise ValueError(
                    "DomainCenterer was fitted with sample_domain and needs it at transform "
                    "too: the domain of each row, whose means it subtracts. In a Pipeline, "
                    "turn metadata routing on (sklearn.set_config(enable_metadata_routing="
                    "True)), call set_transform_request(sample_domain=True) and pass "
                    "sample_domain to predict."
                )
            return X - self.means_[0].astype(X.dtype)
        codes, labels = check_sample_domain(sample_domain, X.shape[0])
        known = {label: i for i, label in enumerate(self.domains_.tolist())}
        for code, label in enumerate(labels.tolist()):
            rows = codes == code
            if label in known:
                X[rows] -= self.means_[known[label]].astype(X.dtype)
                continue
            if rows.sum() < self.min_rows:
                raise ValueError(
                    f"Domain {label!r} was not seen in fit and brings {int(rows.sum())} rows "
                    f"to transform; its own mean needs at least min_rows={self.min_rows}. "
                    "Transform a new domain's rows together."
                )
            X[rows] -= _means(X[rows])
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
