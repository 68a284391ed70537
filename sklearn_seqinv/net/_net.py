"""The skorch layer: a NeuralNet whose loss is the stage loss of the method.

``GatedNet.get_loss`` adds, per batch, the mean per-domain task risk, a domain-invariance
penalty (V-REx, IRMv1 or CORAL), the expected-L0 sparsity term of the gates and an optional
redundancy term, and records each term in skorch's history. Everything else is skorch's own
training loop and its extension points: batches come from ``iterator_train``, a
:class:`BatchIterator` that slices tensors (domain-balanced when the data has several
domains) instead of a DataLoader that would collate sample by sample; the warm-up of the
invariance weight and the end of training once the selection settles are callbacks.
"""

import contextlib
import signal
import threading
from typing import NamedTuple

import torch
from skorch import NeuralNet
from skorch.callbacks import EpochTimer, PassthroughScoring

from ..exceptions import TrainingInterrupted
from ..nn import losses as nn_losses
from ._data import BatchIterator
from .callbacks import InvarianceWarmup, PlainPrintLog, SelectionSettled

__all__ = ["GatedNet", "StageObjective", "StageTerms"]


class StageTerms(NamedTuple):
    """The terms of the stage loss of one batch (``None`` where a term does not apply)."""

    task_loss: torch.Tensor
    invariance_penalty: torch.Tensor | None
    sparsity_penalty: torch.Tensor | None
    redundancy_penalty: torch.Tensor | None


class StageObjective(NamedTuple):
    """What the stage loss adds to the task risk, and the units it is measured in.

    Parameters
    ----------
    sparsity_weights : Tensor of shape (n_features,) or None, default=None
        Weight of each gate's open probability; ``None`` disables the sparsity term.
    invariance : {"vrex", "irm", "coral"} or None, default="vrex"
        Invariance penalty: over the per-domain risks (V-REx, IRMv1), or over the moments of
        the representation the head's last linear layer reads (CORAL).
    invariance_weight : float, default=100.0
        Weight of the invariance penalty once warmed up.
    invariance_warmup : int, default=10
        Epochs over which the invariance weight ramps linearly from 0 to its full value.
    redundancy : float, default=0.0
        Weight of the cross-correlation penalty between gated features and guidance.
    n_domains : int, default=1
        Number of domain codes in the training data.
    loss_scale : float or Tensor, default=1.0
        Divides the per-sample task loss, so that a regression loss is in units of a negative
        log-likelihood (``2 s^2`` for squared error with residual variance ``s^2``) like
        cross-entropy, and one invariance weight and one sparsity unit serve both tasks.
        A :class:`~sklearn_seqinv.nn.GatedMembers` module may get one per member, a tensor
        of shape ``(n_members, 1)``.

    Examples
    --------
    >>> StageObjective(invariance="irm", n_domains=3).invariance_weight
    100.0
    """

    sparsity_weights: torch.Tensor | None = None
    invariance: str | None = "vrex"
    invariance_weight: float = 100.0
    invariance_warmup: int = 10
    redundancy: float = 0.0
    n_domains: int = 1
    loss_scale: float | torch.Tensor = 1.0


#: The objective of a net built without one (immutable, so one instance serves every net).
_DEFAULT_OBJECTIVE = StageObjective()


@contextlib.contextmanager
def _watch_ctrl_c():
    """Record whether SIGINT (Ctrl-C) arrives, then handle it as before.

    skorch's EarlyStopping ends training by raising ``KeyboardInterrupt`` too; the record
    tells the two apart. Signals reach the main thread only, so elsewhere nothing is
    watched and every ``KeyboardInterrupt`` comes from a callback.
    """
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        pressed.set()
        if previous is signal.SIG_IGN:
            return
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


class GatedNet(NeuralNet):
    """skorch net for a ``GatedHead`` module trained with the stage loss.

    skorch's own training loop runs unmodified: batches come from ``iterator_train`` (a
    :class:`BatchIterator`, domain-balanced when asked), :meth:`get_loss` is the one
    definition of the objective, the warm-up of the invariance weight and the end of
    training once the selection has settled are callbacks (:class:`InvarianceWarmup`,
    :class:`SelectionSettled`), and every term of the loss is recorded per batch and
    averaged per epoch by skorch's ``PassthroughScoring``.

    Parameters
    ----------
    module : type or nn.Module
        Usually :class:`~sklearn_seqinv.nn.GatedHead`.
    *args, **kwargs
        Passed to :class:`skorch.NeuralNet`; ``criterion`` must return per-sample losses
        (``reduction="none"``).
    objective : StageObjective, default=StageObjective()
        The penalties beside the task risk, their weights and the loss's unit.
    n_iter_no_change : int or None, default=None
        End training once the selection has settled (:class:`SelectionSettled`); ``None``
        trains every epoch.
    threshold : float, default=0.5
        Gate value above which a column counts as selected.
    """

    def __init__(
        self,
        module,
        *args,
        objective=_DEFAULT_OBJECTIVE,
        n_iter_no_change=None,
        threshold=0.5,
        **kwargs,
    ):
        kwargs.setdefault("iterator_train", BatchIterator)
        kwargs.setdefault("iterator_valid", BatchIterator)
        super().__init__(module, *args, **kwargs)
        self.objective = objective
        self.n_iter_no_change = n_iter_no_change
        self.threshold = threshold

    @property
    def _default_callbacks(self):
        # Without verbose, no epoch log: PrintLog formats a table row every epoch (about a
        # millisecond) even when it prints nothing.
        terms = [
            (name, PassthroughScoring(name=name, on_train=True)) for name in StageTerms._fields
        ]
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            *terms,
            ("invariance_warmup", InvarianceWarmup()),
            ("selection_settled", SelectionSettled()),
        ]
        if self.verbose:
            callbacks.append(("print_log", PlainPrintLog()))
        return callbacks

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``; a Ctrl-C raises :class:`TrainingInterrupted`.

        skorch stops quietly on ``KeyboardInterrupt`` and keeps the half-trained module; an
        estimator must not look fitted after a Ctrl-C, so that interrupt travels up as an
        exception once skorch has ended training. A callback that ends training the skorch
        way (``EarlyStopping``, :class:`SelectionSettled`) still ends it quietly.
        """
        with _watch_ctrl_c() as pressed:
            super().partial_fit(X, y, classes, **fit_params)
        if pressed.is_set():
            raise TrainingInterrupted("Training was interrupted (Ctrl-C).")
        return self

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(net, dataset_train, dataset_valid, **kwargs)
        if self.module_.gate is not None:
            with torch.no_grad():
                values = self.module_.gate_values()
            # Gates stacked by member (GatedMembers): the fit's own are the first.
            values = values[0] if values.dim() > 1 else values
            self.history.record("open_gates", int((values > 0).sum()))
            self.history.record("selected_columns", int((values > self.threshold).sum()))

    def per_sample_loss(self, outputs, target):
        """Task loss of each sample (multi-output regression averages over outputs)."""
        losses = self.criterion_(outputs, target)
        if self.objective.loss_scale != 1.0:
            losses = losses / self.objective.loss_scale
        return losses.mean(dim=1) if losses.dim() > 1 else losses

    def risk_terms(self, y_pred, y_true):
        """Mean per-domain risk and invariance penalty (``None`` without one) of a batch;
        one of each per member for a :class:`~sklearn_seqinv.nn.GatedMembers` module."""
        outputs, _, *features = y_pred
        target, domain, rows = y_true
        if outputs.dim() == 3:
            return self._member_risk_terms(outputs, target, domain, rows)
        losses = self.per_sample_loss(outputs, target)
        if rows is not None:
            # A balanced batch holds ``rows`` rows of every domain, domain after domain: its
            # risks and their sampling variances are the row means and variances of a view.
            # Every domain of the batch is present (``present=None``).
            risks, noise = nn_losses.balanced_risks(losses, len(losses) // rows)
            present, mean = None, risks.mean()
        else:
            risks, present = nn_losses.domain_risks(losses, domain, self.objective.n_domains)
            noise, mean = None, nn_losses.mean_risk(risks, present)
        if self.objective.invariance is None:
            return mean, None
        if self.objective.invariance == "vrex" and rows is not None:
            return mean, nn_losses.vrex_penalty(risks, mean=mean, sampling_variance=noise)
        batch = nn_losses.RiskBatch(
            losses,
            outputs,
            target,
            domain,
            self.objective.n_domains,
            self.per_sample_loss,
            risks,
            present,
            mean,
            noise_corrected=True,
            features=features[0] if features else None,
        )
        if self.objective.invariance in nn_losses.FEATURE_PENALTIES and batch.features is None:
            return mean, None  # no representation at hand (scoring, not training)
        return mean, nn_losses.INVARIANCE_PENALTIES[self.objective.invariance](batch)

    def _member_losses(self, outputs, target):
        """Per-sample losses ``(M, n)`` of every member's outputs ``(M, n, n_outputs)``,
        in the units of :meth:`per_sample_loss` (``loss_scale`` may give one per member)."""
        n_members, n = outputs.shape[:2]
        if target.dim() == 1:  # class indices: the criterion's K-dimensional form
            losses = self.criterion_(outputs.transpose(1, 2), target.expand(n_members, n))
        else:
            losses = self.criterion_(outputs, target.expand_as(outputs)).mean(dim=2)
        if torch.is_tensor(self.objective.loss_scale) or self.objective.loss_scale != 1.0:
            losses = losses / self.objective.loss_scale
        return losses

    def _member_risk_terms(self, outputs, target, domain, rows):
        """:meth:`risk_terms` of every member of a ``GatedMembers`` module, each over the
        domains its ``membership`` gives it."""
        losses = self._member_losses(outputs, target)
        risks, noise, present = nn_losses.member_risks(
            losses, domain, self.objective.n_domains, rows
        )
        weights = self.module_.membership * present.to(risks.dtype)
        mean = (risks * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
        if self.objective.invariance is None:
            return mean, None
        if self.objective.invariance == "vrex":
            return mean, nn_losses.member_vrex_penalty(risks, weights, noise)
        if self.objective.invariance == "irm":
            membership = self.module_.membership
            return mean, nn_losses.member_irm_penalty(
                outputs, target, domain, self.objective.n_domains, self._member_losses, membership
            )
        raise ValueError(f"GatedMembers cannot train the {self.objective.invariance!r} penalty.")

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The stage loss: mean per-domain risk, the invariance penalty (warmed up), the
        gates' expected-L0 sparsity and the redundancy term; in training, each term is
        recorded in the batch's history row.

        ``y_pred`` is the module's output (outputs, gated columns or ``None``, and with
        ``return_features`` the representation); ``y_true`` a :class:`BatchTarget`.
        """
        mean, penalty = self.risk_terms(y_pred, y_true)
        weight = getattr(self, "epoch_invariance_weight_", None)
        if weight is None or not training:
            weight = (
                0.0
                if self.objective.invariance is None
                else float(self.objective.invariance_weight)
            )
        # Members (a GatedMembers module) give one term each; the gradient of their sum is
        # each member's own, and the history records the first member's (the fit itself).
        total = mean.sum()
        if penalty is not None and weight > 0:
            total = total + weight * penalty.sum()
        sparsity = redundancy = None
        gate = self.module_.gate
        if gate is not None and self.objective.sparsity_weights is not None:
            sparsity = nn_losses.sparsity_penalty(
                gate.open_probability(), self.objective.sparsity_weights
            )
            total = total + sparsity.sum()
        n_guidance = self.module_.n_guidance
        if self.objective.redundancy > 0 and n_guidance > 0:
            redundancy = nn_losses.redundancy_penalty(y_pred[1], X[:, :n_guidance])
            total = total + self.objective.redundancy * redundancy
        if training:
            terms = StageTerms(mean, penalty, sparsity, redundancy)
            for name, term in zip(terms._fields, terms):
                value = 0.0 if term is None else term.reshape(-1)[0].item()
                self.history.record_batch(name, value)
        return total

    def fit_params(self):
        """What the module must return in training for this loss (skorch passes
        ``fit_params`` on to the module's ``forward``): the gated columns for the redundancy
        term, the representation for a feature penalty."""
        params = {}
        if self.objective.redundancy > 0 and self.module_.n_guidance > 0:
            params["return_gated"] = True
        if self.objective.invariance in nn_losses.FEATURE_PENALTIES:
            params["return_features"] = True
        return params
