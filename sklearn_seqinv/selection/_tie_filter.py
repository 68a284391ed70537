"""TieInvarianceFilter: keep the columns whose tie to the label holds in every environment."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from .._docstring import fill_doc
from .._validation import check_environments, check_guidance
from ._tie_test import passing, tie_pvalues

__all__ = ["TieInvarianceFilter"]


@fill_doc
class TieInvarianceFilter(SelectorMixin, BaseEstimator):
    """Keep the columns whose tie to the label exists and is the same in every environment.

    Inside each environment (a domain, or a (domain, sub-group) pair), every column is
    regressed on the centred label and, when ``guidance`` is given, on the guidance's
    cross-fitted prediction of the label (one score per target: what earlier modalities
    already predict), with the environment's own intercept. Cochran's Q tests whether the
    coefficient on the label, the column's *tie*, is the same in all environments (with
    guidance, both with and without the scores held fixed, the smaller p-value doubled: a
    strong guidance leaves the guided tie little precision), and the
    fixed-effects (inverse-variance pooled, within-environment) tie is tested against zero;
    a column is kept when its tie is not shown to differ across environments and is shown to
    exist, each at the family-wise ``level`` (Bonferroni over the columns). A tie that flips
    sign or changes strength across environments fails; so does a column that ties nothing
    to the label inside any environment beyond the guidance: an offset between environments
    (a style) that goes with their share of positives is not a tie. This is step 3 of
    :class:`~sklearn_seqinv.InvariantMaskSelector`, usable alone in a ``Pipeline``.

    Without ``sample_domain`` and ``sample_group`` there is nothing to compare and every
    column is kept. With a single environment given, no tie can be shown to hold across
    environments: no column is kept (``pvalues_`` NaN).

    Parameters
    ----------
    level : float, default=0.05
        Family-wise level of the test.
    task : {"auto", "classification", "regression"}, default="auto"
        Whether ``y`` holds classes (one-hot targets) or scores; ``"auto"`` infers it.

    Attributes
    ----------
    pvalues_ : ndarray of shape (n_features,)
        p-value of every column's tie test (NaN with one environment; absent
        without any).
    tie_pvalues_ : ndarray of shape (n_features,)
        p-value of every column's "no tie inside any environment" (the same cases).
    support_ : ndarray of bool of shape (n_features,)
        The kept columns.
    n_environments_ : int
        Environments compared (sub-groups of fewer than 10 rows pooled within their domain).
    n_pooled_groups_ : int
        Sub-groups pooled for being too small.
    %(features_in)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_seqinv import TieInvarianceFilter
    >>> rng = np.random.default_rng(0)
    >>> domain = np.repeat([0, 1, 2], 300)
    >>> y = rng.integers(0, 2, 900)
    >>> tie = np.array([1.0, 0.5, -0.5])[domain]  # the second column's tie changes
    >>> X = np.c_[y + rng.standard_normal(900), tie * y + rng.standard_normal(900)]
    >>> TieInvarianceFilter().fit(X, y, sample_domain=domain).get_support()
    array([ True, False])
    """

    __metadata_request__fit = {"sample_domain": True, "sample_group": True, "guidance": True}

    _parameter_constraints = {
        "level": [Interval(Real, 0, 1, closed="neither")],
        "task": [StrOptions({"auto", "classification", "regression"})],
    }

    def __init__(self, level=0.05, *, task="auto"):
        self.level = level
        self.task = task

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, sample_domain=None, sample_group=None, guidance=None):
        """Test every column's tie across the environments.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Columns to test.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Class labels or scores.
        sample_domain : array-like of shape (n_samples,), default=None
            Domain of each row.
        sample_group : array-like of shape (n_samples,), default=None
            Sub-group of each row inside its domain: the environments become the
            (domain, sub-group) pairs.
        guidance : array-like of shape (n_samples, n_guidance), default=None
            Columns of earlier modalities whose prediction of ``y`` is held fixed.

        Returns
        -------
        self : TieInvarianceFilter
            The fitted filter.
        """
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=False, ensure_min_samples=2)
        environment, _, self.n_pooled_groups_ = check_environments(
            sample_domain, sample_group, X.shape[0]
        )
        self.n_environments_ = int(environment.max()) + 1
        guide = check_guidance(guidance, X.shape[0])
        if sample_domain is None and sample_group is None:
            self.__dict__.pop("pvalues_", None)
            self.__dict__.pop("tie_pvalues_", None)
            self.support_ = np.ones(X.shape[1], dtype=bool)
            return self
        if self.n_environments_ < 2:
            self.pvalues_ = self.tie_pvalues_ = np.full(X.shape[1], np.nan)
        else:
            self.pvalues_, self.tie_pvalues_ = tie_pvalues(
                X,
                y,
                environment,
                guidance=guide,
                classification=self._classification(y),
                existence=True,
            )
        everything = np.ones(X.shape[1], dtype=bool)
        self.support_ = passing(everything, self.pvalues_, self.level, self.tie_pvalues_)
        return self

    def _classification(self, y):
        if self.task != "auto":
            return self.task == "classification"
        return type_of_target(y, input_name="y") in ("binary", "multiclass")

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
