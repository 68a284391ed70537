"""The splits of the DG protocols: which rows each fit trains on and which it scores."""

import numpy as np

__all__ = [
    "DEFAULT_PROTOCOLS",
    "PROTOCOLS",
    "SELECTION_PROTOCOLS",
    "protocol_splits",
    "rows_of",
    "scored_rows",
]

#: The protocols :func:`evaluate_domain_generalization` runs.
PROTOCOLS = ("leave_one_domain_out", "single_source", "official_split")

#: The protocols run when the data names none of its own.
DEFAULT_PROTOCOLS = ("leave_one_domain_out", "single_source")

#: Protocols whose fits' selections the ``gates`` and ``untrusted`` entries summarize.
SELECTION_PROTOCOLS = ("leave_one_domain_out", "official_split")


def scored_rows(split, protocols, n_samples):
    """The rows ``split`` marks ``"test"``; ``None`` when the official split is not run."""
    if "official_split" not in protocols:
        return None
    if split is None:
        raise ValueError(
            "protocol 'official_split' needs split=: the data's own split of each row "
            "('test' for the rows to score, anything else for the rows to fit on)."
        )
    split = np.asarray(split, dtype=object)
    if split.shape != (n_samples,):
        raise ValueError(f"split has shape {split.shape}; expected ({n_samples},), one per row.")
    is_test = split == "test"
    if not is_test.any() or is_test.all():
        raise ValueError(
            f"split must mark some rows 'test' and some not; got values {sorted(set(split))}."
        )
    return is_test


def protocol_splits(domain, protocols, is_test):
    """``(protocol, training domains, target domains)`` of every fit of the protocols."""
    splits = []
    if {"leave_one_domain_out", "single_source"} & set(protocols):
        if len(np.unique(domain)) < 2:
            raise ValueError("Domain generalization needs at least 2 domains in sample_domain.")
        # scikit-learn loads here, not with the command line's --help.
        from ..model_selection import LeaveOneDomainOut

        # Single source is leave-one-domain-out the other way round: fit on the one domain.
        folds = [
            (list(np.unique(domain[train])), list(np.unique(domain[test])))
            for train, test in LeaveOneDomainOut().split(domain, sample_domain=domain)
        ]
        if "leave_one_domain_out" in protocols:
            splits += [("leave_one_domain_out", others, one) for others, one in folds]
        if "single_source" in protocols:
            splits += [("single_source", one, others) for others, one in folds]
    if "official_split" in protocols:
        sources, targets = np.unique(domain[~is_test]), np.unique(domain[is_test])
        splits.append(("official_split", list(sources), list(targets)))
    return splits


def rows_of(protocol, sources, domain, is_test):
    """Training and test rows of one fit."""
    if protocol == "official_split":
        return ~is_test, is_test
    train = np.isin(domain, sources)
    return train, ~train
