"""A cheap linear test that a column's tie to the label is the same in every domain.

In the spirit of invariant causal prediction (Peters, Buhlmann and Meinshausen, JRSS-B 2016),
in a linear form: inside each training domain, regress every column on the (centred) label and
the guidance, with a per-domain intercept so style offsets do not count, and test with
Cochran's Q whether the coefficient on the label (the column's *tie*) is the same in all
domains. A spurious column whose tie keeps its sign but changes its strength across the
training domains fails it, which a penalty on the spread of per-domain risks can miss.
"""

import numpy as np
from scipy import stats

__all__ = ["passing", "tie_heterogeneity", "tie_pvalues"]


def _targets(y, classification):
    """Centred target columns: one-hot minus the last class for classes, else ``y`` itself."""
    if classification:
        classes = np.unique(y)
        onehot = (y[:, None] == classes[None, :]).astype(np.float64)
        return onehot[:, :-1]
    return np.asarray(y, dtype=np.float64).reshape(len(y), -1)


def tie_heterogeneity(X, T, domain, *, controls=None):
    """Cochran's Q of each column's tie to the target across domains, and its p-value.

    Inside each domain every column is regressed on the centred target columns (and the
    controls), all columns at once; the coefficient on the target is the column's *tie*: the
    shift of its mean with the label. Sentiment data are largely anti-causal (the label
    drives what is seen and said), so a spurious column is one whose tie changes strength
    across domains, which this test sees directly, while the reverse regression of the label
    on the column barely moves (its coefficient ``b / (b^2 + s^2)`` is flat in ``b``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_columns)
        Columns to test.
    T : ndarray of shape (n_samples, n_targets)
        Target columns.
    domain : ndarray of shape (n_samples,)
        Domain code of each row (at least two domains).
    controls : ndarray of shape (n_samples, k) or None, default=None
        Regressors held fixed, such as the guidance.

    Returns
    -------
    q : ndarray of shape (n_columns,)
        Cochran's Q, summed over the target columns.
    pvalues : ndarray of shape (n_columns,)
        Upper tail of ``chi2((n_domains - 1) * n_targets)`` at ``q``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> domain = np.repeat([0, 1, 2], 300); y = rng.integers(0, 2, 900).astype(float)
    >>> tie = np.array([1.0, 0.5, 0.2])[domain]
    >>> X = np.c_[y + rng.standard_normal(900), tie * y + rng.standard_normal(900)]
    >>> q, p = tie_heterogeneity(X, y[:, None], domain)
    >>> bool(p[0] > 0.01), bool(p[1] < 1e-3)
    (True, True)
    """
    n_targets = T.shape[1]
    controls = np.empty((X.shape[0], 0)) if controls is None else controls
    coefs, variances = [], []
    for code in np.unique(domain):
        rows = domain == code
        design = np.hstack([T[rows], controls[rows]])
        design = design - design.mean(axis=0)
        Xe = X[rows] - X[rows].mean(axis=0)
        inverse = np.linalg.pinv(design.T @ design, hermitian=True)
        beta = inverse @ design.T @ Xe
        dof = max(rows.sum() - design.shape[1] - 1, 1)
        sigma2 = ((Xe - design @ beta) ** 2).sum(axis=0) / dof
        coefs.append(beta[:n_targets])
        variances.append(np.diag(inverse)[:n_targets, None] * sigma2[None, :])
    coefs, variances = np.stack(coefs), np.maximum(np.stack(variances), 1e-300)
    weights = 1.0 / variances
    pooled = (weights * coefs).sum(axis=0) / weights.sum(axis=0)
    q = (weights * (coefs - pooled) ** 2).sum(axis=(0, 1))
    return q, stats.chi2.sf(q, (len(coefs) - 1) * n_targets)


def tie_pvalues(X, y, domain, *, guidance=None, classification):
    """p-value of every column's tie-invariance test (see :func:`tie_heterogeneity`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The modality's columns.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Labels or scores.
    domain : ndarray of shape (n_samples,)
        Domain code of each row (at least two domains).
    guidance : ndarray of shape (n_samples, k) or None, default=None
        Earlier modalities' selected columns, held fixed in every regression, so a column is
        judged on what it ties to the label beyond them.
    classification : bool
        Whether ``y`` holds class labels.

    Returns
    -------
    pvalues : ndarray of shape (n_features,)
    """
    T = _targets(np.asarray(y), classification)
    controls = None if guidance is None or guidance.shape[1] == 0 else np.asarray(guidance, float)
    return tie_heterogeneity(np.asarray(X, float), T, domain, controls=controls)[1]


def passing(candidates, pvalues, level=0.05):
    """The candidates whose test passes at family-wise ``level`` (Bonferroni over them).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> domain = np.repeat([0, 1, 2], 300); y = rng.integers(0, 2, 900)
    >>> tie = np.array([1.0, 0.5, 0.2])[domain]
    >>> X = np.c_[y + rng.standard_normal(900), tie * y + rng.standard_normal(900)]
    >>> pvalues = tie_pvalues(X, y, domain, classification=True)
    >>> passing(np.array([True, True]), pvalues)
    array([ True, False])
    """
    kept = np.asarray(candidates, dtype=bool)
    return kept & (pvalues * max(int(kept.sum()), 1) >= level)
