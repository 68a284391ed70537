"""Domain-wise splitters for domain-generalization protocols.

Each splitter reads the domain labels from ``sample_domain`` (routed by name when metadata
routing is on) or, as scikit-learn's group splitters do, from ``groups``.
"""

import numbers

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

__all__ = ["LeaveOneDomainOut", "SingleSourceDomainSplit", "TrainingDomainHoldout"]


def _domains(groups, sample_domain, n_samples):
    domain = sample_domain if sample_domain is not None else groups
    if domain is None:
        raise ValueError("Domain splitters need the domain labels: pass sample_domain or groups.")
    domain = np.asarray(domain)
    if domain.shape != (n_samples,):
        raise ValueError(
            f"The domain labels have shape {domain.shape}; expected ({n_samples},), one per row."
        )
    return domain


class _DomainSplitter(BaseCrossValidator):
    __metadata_request__split = {"groups": True, "sample_domain": True}

    def split(self, X, y=None, groups=None, sample_domain=None):
        """Yield ``(train, test)`` index arrays.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data (only its length is used).
        y : array-like, default=None
            Ignored.
        groups : array-like of shape (n_samples,), default=None
            Domain labels, when ``sample_domain`` is not given.
        sample_domain : array-like of shape (n_samples,), default=None
            Domain labels.

        Yields
        ------
        train, test : ndarray
            Row indices.
        """
        domain = _domains(groups, sample_domain, len(X))
        yield from self._split(domain)

    def get_n_splits(self, X=None, y=None, groups=None, sample_domain=None):
        """Number of splits; needs the domain labels."""
        domain = _domains(groups, sample_domain, len(groups if X is None else X))
        return sum(1 for _ in self._split(domain))


class LeaveOneDomainOut(_DomainSplitter):
    """Multi-source DG: train on all domains but one, test on the one left out.

    Examples
    --------
    >>> import numpy as np
    >>> X, domain = np.zeros((4, 1)), np.array(["a", "a", "b", "c"])
    >>> [test.tolist() for _, test in LeaveOneDomainOut().split(X, sample_domain=domain)]
    [[0, 1], [2], [3]]
    """

    def _split(self, domain):
        labels = np.unique(domain)
        if len(labels) < 2:
            raise ValueError("LeaveOneDomainOut needs at least 2 domains.")
        for label in labels:
            yield np.flatnonzero(domain != label), np.flatnonzero(domain == label)


class SingleSourceDomainSplit(_DomainSplitter):
    """Single-source DG: train on one domain, test on each other domain (one split a pair).

    Examples
    --------
    >>> import numpy as np
    >>> X, domain = np.zeros((3, 1)), np.array(["a", "b", "c"])
    >>> [(tr.tolist(), te.tolist()) for tr, te in SingleSourceDomainSplit().split(X, groups=domain)]
    [([0], [1]), ([0], [2]), ([1], [0]), ([1], [2]), ([2], [0]), ([2], [1])]
    """

    def _split(self, domain):
        labels = np.unique(domain)
        if len(labels) < 2:
            raise ValueError("SingleSourceDomainSplit needs at least 2 domains.")
        for source in labels:
            for target in labels:
                if source != target:
                    yield np.flatnonzero(domain == source), np.flatnonzero(domain == target)


class TrainingDomainHoldout(_DomainSplitter):
    """DomainBed's training-domain validation: hold out a fraction of every domain.

    Model selection on these splits never looks at a target domain: pass the training
    domains only.

    Parameters
    ----------
    test_size : float, default=0.2
        Fraction of each domain held out (at least one row per domain).
    n_splits : int, default=1
        Number of random holdouts.
    random_state : int, RandomState instance or None, default=None
        Seed of the holdouts.

    Examples
    --------
    >>> import numpy as np
    >>> X, domain = np.zeros((10, 1)), np.repeat(["a", "b"], 5)
    >>> train, test = next(TrainingDomainHoldout(random_state=0).split(X, sample_domain=domain))
    >>> sorted(domain[test].tolist())
    ['a', 'b']
    """

    def __init__(self, test_size=0.2, n_splits=1, random_state=None):
        self.test_size = test_size
        self.n_splits = n_splits
        self.random_state = random_state

    def _split(self, domain):
        if not (isinstance(self.test_size, numbers.Real) and 0 < self.test_size < 1):
            raise ValueError(f"test_size must be in (0, 1); got {self.test_size!r}.")
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            test = []
            for label in np.unique(domain):
                rows = rng.permutation(np.flatnonzero(domain == label))
                if len(rows) < 2:
                    raise ValueError(f"Domain {label!r} has fewer than 2 rows to hold out from.")
                n_test = min(max(1, round(self.test_size * len(rows))), len(rows) - 1)
                test.append(rows[:n_test])
            test = np.sort(np.concatenate(test))
            yield np.setdiff1d(np.arange(len(domain)), test), test
