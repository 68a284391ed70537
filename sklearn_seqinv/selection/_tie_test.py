"""A cheap linear test that a column's tie to the label is the same in every domain.

In the spirit of invariant causal prediction (Peters, Buhlmann and Meinshausen, JRSS-B 2016),
in a linear form: inside each training domain, regress every column on the (centred) label and
the guidance, with a per-domain intercept so style offsets do not count, and test with
Cochran's Q whether the coefficient on the label (the column's *tie*) is the same in all
domains. A spurious column whose tie keeps its sign but changes its strength across the
training domains fails it, which a penalty on the spread of per-domain risks can miss. The
same regressions give the fixed-effects estimate of the tie (the inverse-variance mean of
the within-domain ties): a column whose pooled tie is not shown to differ from zero ties
nothing to the label inside any domain, and all that can make it look predictive is an offset
between domains (a style) that goes with their share of positives.

What the earlier stages know enters each regression as a few *cross-fitted scores* (their
out-of-fold prediction of the label from the guidance, one column per target), not as every
guidance column: with hundreds of dense guidance columns the label is nearly a linear
function of them inside a domain, the label's coefficient then has almost no precision, and
a tie that flips sign between domains passes.

Holding even those scores fixed costs precision where the guidance predicts the label well:
inside a domain the label then varies little beyond what the scores say, and the tie's
coefficient is estimated from that little. On review text (MiniLM embeddings, 2,000 rows a
domain) a video column whose tie halves between the two training domains passed the guided
test (p = 0.01, above the Bonferroni threshold) and failed the test without the guidance
(p < 1e-10), while the guided test is the sharper one where the guidance explains the column
itself. So with guidance, the heterogeneity p-value is the smaller of the two, doubled
(Bonferroni over the two tests): a column passes only when neither shows its tie to change.
Whether the tie *exists* is judged beyond the guidance alone (a column that only repeats
what the guidance says adds nothing).
"""

import numpy as np
from scipy import stats
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.preprocessing import label_binarize

__all__ = [
    "guidance_scores",
    "guided_tie_tests",
    "passing",
    "tie_heterogeneity",
    "tie_pvalues",
    "tie_tests",
]

#: Folds of the cross-fitted guidance scores.
SCORE_FOLDS = 5

#: Ridge penalties searched (by efficient leave-one-out) for the guidance scores.
SCORE_ALPHAS = tuple(np.logspace(-2, 4, 13))


def _targets(y, classification):
    """Target columns: the classes binarized but the last (one column for two classes),
    else ``y`` itself."""
    if classification:
        classes = np.unique(y)
        onehot = label_binarize(y, classes=classes).astype(np.float64)
        return onehot if len(classes) == 2 else onehot[:, :-1]
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
    q, p, _ = tie_tests(X, T, domain, controls=controls)
    return q, p


def tie_tests(X, T, domain, *, controls=None):
    """:func:`tie_heterogeneity`, and whether each column's tie exists: the p-value of its
    fixed-effects (within-domain, inverse-variance pooled) tie against zero, a chi-squared
    with ``n_targets`` degrees of freedom.

    Returns
    -------
    q, heterogeneity : ndarray of shape (n_columns,)
        As :func:`tie_heterogeneity` returns them.
    existence : ndarray of shape (n_columns,)
        p-value of "no tie inside any domain".

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> domain = np.repeat([0, 1, 2], 300); y = rng.integers(0, 2, 900).astype(float)
    >>> offset = np.array([0.0, 2.0, -1.0])[domain]  # a style, no tie
    >>> X = np.c_[y + rng.standard_normal(900), offset + rng.standard_normal(900)]
    >>> _, heterogeneity, existence = tie_tests(X, y[:, None], domain)
    >>> bool(existence[0] < 1e-6), bool(existence[1] > 0.01), bool(heterogeneity[1] > 0.01)
    (True, True, True)
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
    z2 = (pooled**2 * weights.sum(axis=0)).sum(axis=0)
    return q, stats.chi2.sf(q, (len(coefs) - 1) * n_targets), stats.chi2.sf(z2, n_targets)


def guidance_scores(guidance, T, *, n_folds=SCORE_FOLDS, seed=0):
    """Cross-fitted prediction of the target columns ``T`` from the guidance.

    Each row's score comes from a ridge regression (penalty by leave-one-out over
    :data:`SCORE_ALPHAS`) fitted on the other folds, so the score carries what the guidance
    predicts of the label without the in-sample fit of every guidance column (double machine
    learning's cross-fitting).

    Parameters
    ----------
    guidance : ndarray of shape (n_samples, k)
        The earlier stages' selected columns.
    T : ndarray of shape (n_samples, n_targets)
        Target columns.
    n_folds : int, default=SCORE_FOLDS
        Folds of the cross-fitting (fewer when there are fewer rows).
    seed : int, default=0
        Seed of the folds.

    Returns
    -------
    scores : ndarray of shape (n_samples, n_targets)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200).astype(float)[:, None]
    >>> G = y + rng.standard_normal((200, 30))
    >>> scores = guidance_scores(G, y)
    >>> scores.shape, bool(np.corrcoef(scores[:, 0], y[:, 0])[0, 1] > 0.8)
    ((200, 1), True)
    """
    scores = np.empty_like(T, dtype=np.float64)
    folds = KFold(min(n_folds, len(T)), shuffle=True, random_state=seed)
    for train, test in folds.split(guidance):
        model = RidgeCV(alphas=SCORE_ALPHAS).fit(guidance[train], T[train])
        scores[test] = model.predict(guidance[test]).reshape(len(test), -1)
    return scores


def tie_pvalues(X, y, domain, *, guidance=None, classification, existence=False):
    """p-value of every column's tie test (see :func:`tie_heterogeneity`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The modality's columns.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Labels or scores.
    domain : ndarray of shape (n_samples,)
        Domain code of each row (at least two domains).
    guidance : ndarray of shape (n_samples, k) or None, default=None
        Earlier modalities' selected columns. Their cross-fitted scores
        (:func:`guidance_scores`) are held fixed in the existence test, so a column is judged
        on what it ties to the label beyond what the guidance predicts; the heterogeneity
        p-value is the smaller of the tests with and without them, doubled (see the
        module's description).
    classification : bool
        Whether ``y`` holds class labels.
    existence : bool, default=False
        Also return the p-values of the tie's existence (:func:`tie_tests`).

    Returns
    -------
    pvalues : ndarray of shape (n_features,)
    existence : ndarray of shape (n_features,)
        With ``existence=True``.
    """
    T, X = _targets(np.asarray(y), classification), np.asarray(X, float)
    if guidance is not None and guidance.shape[1]:
        scores = guidance_scores(np.asarray(guidance, float), T)
        heterogeneity, exists = guided_tie_tests(X, T, domain, scores)
    else:
        _, heterogeneity, exists = tie_tests(X, T, domain)
    return (heterogeneity, exists) if existence else heterogeneity


def guided_tie_tests(X, T, domain, scores):
    """The tie test of a guided stage, given the guidance's cross-fitted ``scores``.

    Heterogeneity: the smaller p-value of :func:`tie_heterogeneity` with the scores held
    fixed and without them, doubled (Bonferroni over the two: either can show the tie to
    change; see the module's description). Existence: beyond the scores.

    Returns
    -------
    heterogeneity, existence : ndarray of shape (n_columns,)
        p-values, as :func:`tie_tests` returns them.
    """
    _, guided, exists = tie_tests(X, T, domain, controls=scores)
    _, marginal = tie_heterogeneity(X, T, domain)
    return np.minimum(1.0, 2.0 * np.minimum(guided, marginal)), exists


def passing(candidates, pvalues, level=0.05, existence=None):
    """The candidates whose test passes at family-wise ``level`` (Bonferroni over them): a
    tie that is not shown to differ across domains and, given ``existence`` (the p-values
    of :func:`tie_tests`), is shown to exist.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> domain = np.repeat([0, 1, 2], 300); y = rng.integers(0, 2, 900)
    >>> tie = np.array([1.0, 0.5, 0.2])[domain]
    >>> offset = np.array([0.0, 2.0, -1.0])[domain]
    >>> X = np.c_[y + rng.standard_normal(900), tie * y + rng.standard_normal(900),
    ...           offset + rng.standard_normal(900)]
    >>> pvalues, exists = tie_pvalues(X, y, domain, classification=True, existence=True)
    >>> passing(np.ones(3, dtype=bool), pvalues)
    array([ True, False,  True])
    >>> passing(np.ones(3, dtype=bool), pvalues, existence=exists)
    array([ True, False, False])
    """
    kept = np.asarray(candidates, dtype=bool)
    m = max(int(kept.sum()), 1)
    kept = kept & (pvalues * m >= level)
    if existence is not None:
        kept = kept & (existence * m < level)
    return kept
