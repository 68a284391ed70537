"""A recurrent head over the ordered rows of a group: the utterances of one video (pure torch)."""

import torch
from torch import nn

__all__ = ["MaskedMSELoss", "UtteranceGRU"]


class UtteranceGRU(nn.Module):
    """Per-row outputs of a bidirectional GRU read over each group's rows in order.

    Each row is projected (ReLU) to ``hidden_units``; a bidirectional GRU reads the
    projected rows of a group forwards and backwards, and each row's output is a linear map
    of its own projection and the GRU's two states at its position (a contextual model in
    the manner of the bc-LSTM of Poria et al., ACL 2017). Padded positions never reach the
    states of the real ones (packed sequences).

    Parameters
    ----------
    n_inputs : int
        Columns of a row.
    n_outputs : int
        Outputs per row (classes, or targets).
    hidden_units : int, default=64
        Width of the projection and of each direction of the GRU.
    dropout : float, default=0.5
        Dropout on the inputs and on what the output layer reads.

    Examples
    --------
    >>> import torch
    >>> module = UtteranceGRU(5, 2, hidden_units=8)
    >>> out = module(torch.randn(3, 4, 5), torch.tensor([4, 2, 1]))
    >>> tuple(out.shape)
    (3, 2, 4)
    """

    def __init__(self, n_inputs, n_outputs, hidden_units=64, dropout=0.5):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.project = nn.Linear(n_inputs, hidden_units)
        self.gru = nn.GRU(hidden_units, hidden_units, batch_first=True, bidirectional=True)
        self.out = nn.Linear(3 * hidden_units, n_outputs)

    def forward(self, x, lengths):
        """Outputs of shape ``(n_groups, n_outputs, max_length)`` for padded groups ``x`` of
        shape ``(n_groups, max_length, n_inputs)`` whose true lengths are ``lengths``
        (outputs first after the groups, as ``cross_entropy`` takes them)."""
        projected = torch.relu(self.project(self.drop(x)))
        packed = nn.utils.rnn.pack_padded_sequence(
            projected, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        states, _ = self.gru(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(
            states, batch_first=True, total_length=x.shape[1]
        )
        return self.out(self.drop(torch.cat([projected, states], dim=-1))).transpose(1, 2)


class MaskedMSELoss(nn.Module):
    """Mean squared error over the positions whose target is not NaN (padding).

    Examples
    --------
    >>> import torch
    >>> loss = MaskedMSELoss()(torch.zeros(1, 1, 3), torch.tensor([[[1.0, 2.0, float("nan")]]]))
    >>> float(loss)
    2.5
    """

    def forward(self, outputs, target):
        present = ~torch.isnan(target)
        return ((outputs - torch.nan_to_num(target)) ** 2)[present].mean()
