"""Groups of rows as sequences for skorch: one item a group, padded per batch."""

import torch
from skorch import NeuralNet
from torch.utils.data import Dataset

from .callbacks import PlainPrintLog

__all__ = ["PADDING", "GroupSequences", "SequenceNet", "pad_groups"]

#: Class target of a padded position (``cross_entropy``'s ``ignore_index``); a padded
#: regression target is NaN (:class:`~sklearn_seqinv.nn.recurrent.MaskedMSELoss`).
PADDING = -100


class GroupSequences(Dataset):
    """The rows of each group in their order: item ``i`` is ``({"x": rows}, targets)``.

    Parameters
    ----------
    X : Tensor of shape (n_samples, n_features)
        Rows.
    groups : list of LongTensor
        The row indices of each group, in the group's order.
    y : Tensor of shape (n_samples,) or (n_samples, n_targets), default=None
        Targets (``None`` at prediction).
    """

    def __init__(self, X, groups, y=None):
        self.X, self.groups, self.y = X, groups, y

    def __len__(self):
        return len(self.groups)

    def __getitem__(self, i):
        rows = self.groups[i]
        target = None if self.y is None else self.y[rows]
        return {"x": self.X[rows]}, target


def pad_groups(items):
    """skorch's ``collate_fn``: pad a batch of groups to its longest, with their lengths;
    padded targets are :data:`PADDING`."""
    inputs, targets = zip(*items)
    rows = [item["x"] for item in inputs]
    lengths = torch.tensor([len(r) for r in rows])
    x = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)
    if targets[0] is None:
        return {"x": x, "lengths": lengths}, None
    padding = PADDING if not targets[0].is_floating_point() else float("nan")
    y = torch.nn.utils.rnn.pad_sequence(list(targets), batch_first=True, padding_value=padding)
    if y.dim() == 3:  # (groups, length, targets) -> (groups, targets, length), as the outputs
        y = y.transpose(1, 2)
    return {"x": x, "lengths": lengths}, y


class SequenceNet(NeuralNet):
    """skorch's own ``NeuralNet`` over :class:`GroupSequences` batches (``collate_fn``
    :func:`pad_groups`), whose epoch log drops colour codes when stdout is not a terminal."""

    @property
    def _default_callbacks(self):
        return [
            (name, PlainPrintLog() if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
        ]
