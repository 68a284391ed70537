"""skorch callbacks of the gate phase: the invariance warm-up, the end once the selection
settles, and an epoch log without colour codes when piped."""

import collections
import re
import sys

import torch
from skorch.callbacks import Callback, PrintLog

__all__ = ["InvarianceWarmup", "PlainPrintLog", "SelectionSettled"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class PlainPrintLog(PrintLog):
    """skorch's epoch log, without ANSI colour codes when stdout is not a terminal.

    A log piped into a file or a CI log then reads as plain text.
    """

    def format_row(self, row, key, color):
        value = super().format_row(row, key, color)
        if isinstance(value, str) and not sys.stdout.isatty():
            return _ANSI.sub("", value)
        return value


class _Settling:
    """Whether the selection has settled: the same for ``patience`` epochs after ``warmup``,
    and still the same at ``max_epochs`` if every gate keeps moving at its rate over those
    epochs (a gate drifting slowly towards the threshold keeps training going).
    """

    def __init__(self, patience, warmup, max_epochs):
        self.patience = patience
        self.warmup = warmup
        self.max_epochs = max_epochs
        self.support = None
        self.since = 0
        self.scores = collections.deque(maxlen=patience + 1)

    def update(self, epoch, gate, threshold):
        with torch.no_grad():
            # Gates stacked by member (GatedMembers): the fit's own, the first; the others
            # train as many epochs as it does.
            scores = gate.scores().detach().cpu().clone()
            scores = scores[0] if scores.dim() > 1 else scores
            support = gate.gate_values(scores) > threshold
        if self.support is None or not torch.equal(support, self.support):
            self.support, self.since = support, epoch
        self.scores.append(scores)
        if epoch - max(self.since, self.warmup) < self.patience:
            return False
        rate = (scores - self.scores[0]) / self.patience
        projected = scores + rate * max(self.max_epochs - epoch, 0)
        with torch.no_grad():
            later = gate.gate_values(projected) > threshold
        return torch.equal(later, support)


class InvarianceWarmup(Callback):
    """Ramp the net's invariance weight linearly from 0 over the objective's warm-up epochs.

    Sets ``net.epoch_invariance_weight_`` at the start of every epoch (what
    :meth:`GatedNet.get_loss` weighs the penalty by) and records it in the history as
    ``invariance_weight``.
    """

    def on_epoch_begin(self, net, **kwargs):
        weight = 0.0
        objective = net.objective
        if objective.invariance is not None:
            weight = float(objective.invariance_weight)
            if objective.invariance_warmup > 0:
                epoch = len(net.history) - 1
                weight *= min(1.0, epoch / objective.invariance_warmup)
        net.epoch_invariance_weight_ = weight
        net.history.record("invariance_weight", weight)


class SelectionSettled(Callback):
    """End training once the gated selection has settled (``net.n_iter_no_change``).

    After the invariance weight is warmed up, the selected columns (deterministic gate above
    ``net.threshold``) must have stayed the same for ``n_iter_no_change`` epochs, and still
    be the same at ``max_epochs`` if every gate kept moving at its rate over those epochs.
    Training then ends the way skorch's ``EarlyStopping`` ends it (``KeyboardInterrupt``,
    which skorch catches), with ``stopped_early`` in the last history row. Does nothing when
    ``n_iter_no_change`` is ``None`` or the module has no gate.
    """

    def on_train_begin(self, net, **kwargs):
        self.settling_ = None
        if net.n_iter_no_change is not None and net.module_.gate is not None:
            warmup = net.objective.invariance_warmup
            self.settling_ = _Settling(net.n_iter_no_change, warmup, net.max_epochs)

    def on_epoch_end(self, net, **kwargs):
        if self.settling_ is None:
            return
        if self.settling_.update(len(net.history), net.module_.gate, net.threshold):
            net.history.record("stopped_early", True)
            raise KeyboardInterrupt
