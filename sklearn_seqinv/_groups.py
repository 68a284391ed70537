"""The groups of rows (a video's utterances, a dialogue's lines) and their order within a
group, as the context transformer and the contextual head read them."""

import numpy as np

__all__ = ["check_labels", "group_order", "ordered_groups"]


def check_labels(values, name, n_samples):
    """``values`` as a 1-D array of one label per row, or a ``ValueError`` naming it."""
    values = np.asarray(values)
    if values.ndim != 1 or values.shape[0] != n_samples:
        raise ValueError(
            f"{name} has shape {values.shape}; expected ({n_samples},): one label per row of X."
        )
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ValueError(f"{name} holds NaN or infinity; every row needs a label.")
    if values.dtype.kind == "O" and any(v is None for v in values):
        raise ValueError(f"{name} holds None; every row needs a label.")
    if values.dtype.kind == "O":
        try:
            np.unique(values)
        except TypeError:
            kinds = sorted({type(v).__name__ for v in values})
            raise ValueError(
                f"{name} mixes labels that cannot be ordered ({', '.join(kinds)}); give labels "
                "of one type, for example strings."
            ) from None
    return values


def group_order(codes, order, group):
    """The rows sorted by group code, then by ``order`` within the group (the rows' own
    order where ``order`` is None), and, for each sorted position, where its group starts
    and ends; a repeated order value within a group is an error (the previous and next rows
    would be ambiguous)."""
    if order is None:
        position = np.arange(len(codes))
    else:
        _, position = np.unique(order, return_inverse=True)
        position = position.ravel()
    rows = np.lexsort((position, codes))
    sorted_codes, sorted_position = codes[rows], position[rows]
    repeated = (np.diff(sorted_codes) == 0) & (np.diff(sorted_position) == 0)
    if repeated.any():
        at = rows[np.flatnonzero(repeated)[0]]
        raise ValueError(
            f"sample_order repeats the value {order[at].item()!r} inside group "
            f"{group[at].item()!r}: the "
            "order of a group's rows must be unique to tell the previous row from the next."
        )
    starts = np.searchsorted(sorted_codes, sorted_codes, side="left")
    ends = np.searchsorted(sorted_codes, sorted_codes, side="right")
    return rows, starts, ends


def ordered_groups(group, order=None):
    """The row indices of each group, each in the group's order (groups in sorted order of
    their labels).

    Examples
    --------
    >>> import numpy as np
    >>> [g.tolist() for g in ordered_groups(np.array(["b", "a", "b", "a"]), [2, 1, 1, 0])]
    [[3, 1], [2, 0]]
    """
    group = np.asarray(group)
    _, codes = np.unique(group, return_inverse=True)
    codes = codes.ravel()
    rows, _, _ = group_order(codes, None if order is None else np.asarray(order), group)
    return np.split(rows, np.flatnonzero(np.diff(codes[rows])) + 1)
