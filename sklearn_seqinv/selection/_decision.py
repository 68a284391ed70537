"""Step 4's rule: keep a sparse selection or the dense candidate, and a later modality or the
guidance alone, from losses on training domains held out from the fits that chose them."""

import numpy as np
from sklearn.model_selection import GroupKFold
from sklearn.utils import Bunch

from ..model_selection import LeaveOneDomainOut

__all__ = [
    "SPARSE_MARGIN",
    "decision_evidence",
    "held_out_domain_folds",
    "sparse_wins",
]

#: A sparse selection replaces the dense candidate when its mean gain over the held-out
#: domains exceeds this many standard errors of that mean (ESL's one-standard-error rule).
SPARSE_MARGIN = 1.0


def sparse_wins(gains, margin=SPARSE_MARGIN):
    """Whether a sparse selection beats the dense candidate on new domains.

    ``gains`` holds one number per held-out training domain ``k``: the dense candidate's
    mean validation loss on ``k`` minus the sparse selection's, both fitted without ``k``
    (the sparse columns chosen by gates that never saw ``k``). The sparse selection wins
    when the mean gain exceeds ``margin`` standard errors of that mean, the standard error
    estimated from how much the gain varies from one held-out domain to the next (which
    holds the rows' own noise too): the one-standard-error rule of Hastie, Tibshirani and
    Friedman (ESL, 7.10), with the dense candidate, which chooses nothing, as the default
    that a selection must beat by more than its uncertainty. A domain is the unit that
    generalizes, so each counts once whatever its size; with fewer than two the dense
    candidate is kept.

    Parameters
    ----------
    gains : array-like of shape (n_held_out_domains,)
        Mean loss of the dense candidate minus that of the sparse one, per held-out domain.
    margin : float, default=SPARSE_MARGIN
        Standard errors the mean gain must exceed.

    Returns
    -------
    wins : bool

    Examples
    --------
    A gain on every one of four held-out domains, of very different sizes; a gain on one
    that is a loss on another:

    >>> sparse_wins([0.02, 0.18, 0.47, 0.05])
    True
    >>> sparse_wins([0.30, -0.05, 0.01])
    False
    """
    gains = np.asarray(gains, dtype=float)
    if len(gains) < 2:
        return False
    return bool(_t_statistic(gains) > margin)


def held_out_domain_folds(domain, n_environments, max_folds=5):
    """``(train, test)`` row indices that hold out each training environment in turn, or,
    with more than ``max_folds`` environments, ``max_folds`` groups of whole environments
    (scikit-learn's ``GroupKFold``).

    Examples
    --------
    >>> [test.tolist() for _, test in held_out_domain_folds(np.array([0, 0, 1, 2]), 3)]
    [[0, 1], [2], [3]]
    """
    if n_environments <= max_folds:
        return list(LeaveOneDomainOut().split(domain, sample_domain=domain))
    return list(GroupKFold(n_splits=max_folds).split(domain, groups=domain))


def _t_statistic(gains):
    """The mean gain over its standard error across held-out domains (``nan`` with fewer
    than two; ``inf`` times its sign when every gain is the same, 0 when every gain is 0)."""
    if len(gains) < 2:
        return float("nan")
    spread = gains.std(ddof=1)
    if spread == 0:
        mean = gains.mean()
        return 0.0 if mean == 0 else float(np.sign(mean) * np.inf)
    return float(gains.mean() / (spread / np.sqrt(len(gains))))


def _modality_evidence(gains, held_out):
    """The modality's part of the evidence, from its gains over the guidance alone on each
    held-out domain (``None``: not judged, the modality stays)."""
    if gains is None:
        return dict(
            modality_gains=None,
            modality_statistic=float("nan"),
            modality_kept=True,
            modality_risk=[],
        )
    # Two candidates that both passed their tests, neither the simpler by choice: the lower
    # mean held-out loss wins (as a grid search chooses), and a held-out domain where the
    # modality hurts is a risk named in the fitted state.
    return dict(
        modality_gains=gains,
        modality_statistic=_t_statistic(gains),
        modality_kept=bool(gains.mean() > 0),
        modality_risk=[h for h, g in zip(held_out, gains) if g < 0],
    )


def decision_evidence(losses, held_out, *, compare, guided, **counts):
    """The decision and its evidence, from the held-out losses of the candidates.

    Parameters
    ----------
    losses : ndarray of shape (n_held_out_domains, 2) or (n_held_out_domains, 3)
        On each held-out domain, the mean loss of the sparse candidate, of the dense one
        and, for a guided stage, of a head on the guidance alone; each fitted without it.
    held_out : list of str
        The held-out domains.
    compare : bool
        Whether the two candidates differ (else the sparse one stays, undecided).
    guided : bool
        Whether the modality itself is judged against the guidance alone.
    **counts : dict
        Column counts stored as they are: ``sparse_kept_per_fold`` (list of int, the columns
        the gates blind to each held-out domain kept among the passing ones),
        ``stable_columns``, ``dense_columns`` and ``sparse_columns`` (int: the columns kept by
        most blind gates, in the dense candidate, in the fit's selection).

    Returns
    -------
    evidence : Bunch
        As ``InvariantMaskSelector.selection_evidence_`` documents it.

    Examples
    --------
    >>> losses = np.array([[0.50, 0.60], [0.40, 0.45], [0.70, 0.71]])
    >>> evidence = decision_evidence(losses, ["a", "b", "c"], compare=True, guided=False,
    ...     sparse_kept_per_fold=[3, 3, 4], stable_columns=3, dense_columns=10, sparse_columns=3)
    >>> evidence.sparse_kept, evidence.gains.round(2).tolist()
    (True, [0.1, 0.05, 0.01])
    """
    gains = losses[:, 1] - losses[:, 0]
    sparse_kept = sparse_wins(gains) if compare else True
    if guided:
        chosen = losses[:, 0] if sparse_kept else losses[:, 1]
        modality = _modality_evidence(losses[:, 2] - chosen, held_out)
    else:
        modality = _modality_evidence(None, held_out)
    return Bunch(
        held_out=held_out,
        gains=gains,
        sparse_kept=sparse_kept,
        threshold=SPARSE_MARGIN,
        statistic=_t_statistic(gains) if compare else float("nan"),
        **counts,
        **modality,
    )
