"""Combine several loaded datasets into one multi-domain dataset (domain = dataset)."""

import numpy as np

from ._base import modality_bunch, polarity_of_classes, scores_to_labels

__all__ = ["combine_domains"]


def combine_domains(datasets, *, target="polarity"):
    """Stack datasets as domains of one dataset, in a common label space.

    Parameters
    ----------
    datasets : dict of str to Bunch
        Domain name -> a loader's Bunch. Every dataset must have the same modalities with the
        same widths (select or project them first when they differ).
    target : {"polarity", "polarity3", "regression"}, default="polarity"
        Common labels. Scores map as in :func:`load_mmsa`; datasets whose labels are already
        classes (MELD's 0 / 1 / 2 sentiment) map negative -> 0 and the rest -> 1 for
        "polarity", and keep 0 / 1 / 2 for "polarity3". "regression" needs scores everywhere.

    Returns
    -------
    data : Bunch
        The loader Bunch over all rows, with ``sample_domain`` the dataset name.

    Examples
    --------
    >>> from sklearn_seqinv.datasets import make_multimodal_domains
    >>> a = make_multimodal_domains(50, task="regression", random_state=0)
    >>> b = make_multimodal_domains(30, task="regression", random_state=1)
    >>> for d in (a, b):
    ...     d.ids, d.split = np.arange(len(d.y)), np.full(len(d.y), "all")
    >>> both = combine_domains({"mosi": a, "mosei": b})
    >>> both.X.shape, sorted(set(both.sample_domain.tolist()))
    ((80, 40), ['mosei', 'mosi'])
    """
    if not datasets:
        raise ValueError("combine_domains needs at least one dataset.")
    names = list(datasets)
    layout = {m: len(c) for m, c in datasets[names[0]].modalities.items()}
    for name in names[1:]:
        other = {m: len(c) for m, c in datasets[name].modalities.items()}
        if other != layout:
            raise ValueError(
                f"Dataset {name!r} has modalities {other} but {names[0]!r} has {layout}; "
                "they must match to be stacked."
            )
    blocks = {m: [] for m in layout}
    ys, domains, ids, splits, groups = [], [], [], [], []
    for name, data in datasets.items():
        for m in layout:
            blocks[m].append(np.asarray(data.X)[:, data.modalities[m]])
        ys.append(_common_labels(name, data.y, target))
        domains += [name] * len(data.y)
        ids += [f"{name}/{i}" for i in data.ids]
        splits += list(data.split)
        groups += [f"{name}/{g}" for g in data.get("sample_group", data.ids)]
    return modality_bunch(
        {m: np.vstack(b) for m, b in blocks.items()},
        np.concatenate(ys),
        sample_domain=domains,
        # Sub-groups are kept where every dataset has them.
        sample_group=groups if all("sample_group" in d for d in datasets.values()) else None,
        ids=ids,
        split=splits,
    )


def _common_labels(name, y, target):
    y = np.asarray(y)
    if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
        return scores_to_labels(y, target)
    if target == "regression":
        raise ValueError(f"Dataset {name!r} has class labels; target='regression' needs scores.")
    classes = y.astype(np.int64)
    if set(np.unique(classes)) <= {0, 1, 2} and target == "polarity":
        return polarity_of_classes(classes)
    if target == "polarity3":
        return classes
    raise ValueError(f"Cannot map the labels of {name!r} to {target!r}.")
