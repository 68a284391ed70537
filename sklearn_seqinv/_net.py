"""The skorch layer: a NeuralNet whose loss is the stage loss of the method.

``GatedNet`` adds, per batch, the mean per-domain task risk, a domain-invariance penalty
(V-REx or IRMv1), the expected-L0 sparsity term of the gates and an optional redundancy term,
and records each term per epoch in skorch's history. Batches are sliced straight from tensors
(domain-balanced when the data has several domains) instead of going through a DataLoader
that would collate sample by sample.
"""

import collections
import contextlib
import math
import re
import signal
import sys
import threading

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, PrintLog
from skorch.utils import TeeGenerator
from torch.utils.data import Dataset

from .exceptions import TrainingInterrupted
from .nn.heads import GatedHead
from .nn.losses import (
    FEATURE_PENALTIES,
    INVARIANCE_PENALTIES,
    RiskBatch,
    domain_risks,
    hand_derivative_kind,
    loss_and_output_gradient,
    mean_risk,
    redundancy_penalty,
    sparsity_penalty,
)

_TERMS = ("task_loss", "invariance_penalty", "sparsity_penalty", "redundancy_penalty")
#: Per-batch callback events of training; only callbacks that override them are called.
_STEP_EVENTS = ("on_batch_begin", "on_batch_end", "on_grad_computed")
#: Optimizers whose ``step`` evaluates no closure: trained without skorch's closure.
_CLOSURE_FREE = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
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


class ArrayDataset(Dataset):
    """Tensors of one fit or predict call: ``X`` (guidance then gated columns), ``y``, domains."""

    def __init__(self, X, y=None, domain=None):
        self.X = X
        self.y = y
        self.domain = domain

    def __len__(self):
        return self.X.shape[0]


class BatchIterator:
    """Yield ``(X, (y, domain))`` batches by slicing tensors.

    In training, rows are shuffled with the torch global generator (the estimator seeds it
    inside ``torch.random.fork_rng``, so the caller's state is untouched). With ``balance``,
    each batch draws the same number of rows from every domain, cycling through reshuffled
    copies of the smaller domains, as DomainBed does. Every domain then gives a batch at least
    ``MIN_DOMAIN_ROWS`` rows (batches grow with the number of domains, and an epoch has fewer
    of them), so each per-domain risk of the invariance penalty is estimated from enough rows
    to carry more signal than sampling noise.
    """

    MIN_DOMAIN_ROWS = 32

    def __init__(self, dataset, batch_size, training=False, balance=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.training = training
        self.balance = balance
        self._members_cache = None
        self._codes = None

    def __len__(self):
        if self.training and self.balance:
            n_domains, quota = self._quota()
            return max(1, math.ceil(len(self.dataset) / (n_domains * quota)))
        return math.ceil(len(self.dataset) / self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.training:
            return None
        if not self.balance:
            return torch.randperm(n)
        return self._balanced_order()

    def _members(self):
        """Row indices of every domain, computed once per iterator."""
        if self._members_cache is None:
            domain = self.dataset.domain.cpu()
            self._codes = torch.unique(domain)
            self._members_cache = [torch.nonzero(domain == code).flatten() for code in self._codes]
        return self._members_cache

    def _quota(self):
        n_domains = len(self._members())
        return n_domains, max(self.MIN_DOMAIN_ROWS, self.batch_size // n_domains)

    def layout(self):
        """``(n_domains, rows_per_domain)`` of every balanced training batch, else ``None``.

        A balanced batch holds the same number of rows of each domain, domain after domain
        in the order of their codes: its per-sample losses viewed as an
        ``(n_domains, rows_per_domain)`` matrix have one domain per row.
        """
        if not (self.training and self.balance):
            return None
        return self._quota()

    def _balanced_order(self):
        n_batches = len(self)
        _, quota = self._quota()
        per_domain = []
        for members in self._members():
            repeats = math.ceil(n_batches * quota / len(members))
            drawn = torch.cat([members[torch.randperm(len(members))] for _ in range(repeats)])
            per_domain.append(drawn[: n_batches * quota].view(n_batches, quota))
        return torch.cat(per_domain, dim=1).flatten()

    def __iter__(self):
        data = self.dataset
        order = self._order()
        n = len(data) if order is None else len(order)
        step = self.batch_size
        if order is not None and self.balance:
            step = len(order) // len(self)
        if order is not None:
            order = order.to(data.X.device)
        # A balanced batch's domains are the same every time: each code, quota rows in turn.
        domains = None
        if order is not None and self.balance:
            domains = self._codes.to(data.domain.device).repeat_interleave(step // len(self._codes))
        for start in range(0, n, step):
            if order is None:
                index = slice(start, start + step)
                target = None if data.y is None else (data.y[index], data.domain[index])
                yield data.X[index], target
                continue
            # index_select copies the rows several times faster than X[index].
            index = order[start : start + step]
            target = None
            if data.y is not None:
                domain = domains if domains is not None else data.domain.index_select(0, index)
                target = (data.y.index_select(0, index), domain)
            yield data.X.index_select(0, index), target


def _accumulate(param, grad):
    """Add ``grad`` to ``param.grad`` as ``backward`` does (set it when there is none)."""
    if param.grad is None:
        param.grad = grad
    else:
        param.grad.add_(grad)


class _Converged(Exception):
    """Ends :meth:`GatedNet.fit_loop` once the selected columns have settled."""


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
            scores = gate.scores().detach().cpu().clone()
            support = gate.gate_values() > threshold
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

    Parameters
    ----------
    module : type or nn.Module
        Usually :class:`~sklearn_seqinv.nn.GatedHead`.
    *args, **kwargs
        Passed to :class:`skorch.NeuralNet`; ``criterion`` must return per-sample losses
        (``reduction="none"``).
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
    balance_domains : bool, default=True
        Draw domain-balanced training batches when there are several domains.
    loss_scale : float, default=1.0
        Divides the per-sample task loss, so that a regression loss is in units of a negative
        log-likelihood (``2 s^2`` for squared error with residual variance ``s^2``) like
        cross-entropy, and one invariance weight and one sparsity unit serve both tasks.
    n_iter_no_change : int or None, default=None
        End training once the invariance weight is warmed up, the selected columns
        (deterministic gate above ``threshold``) have stayed the same for this many epochs,
        and they would still be the same at the last epoch if every gate kept moving at its
        rate over those epochs; ``None`` trains every epoch.
    threshold : float, default=0.5
        Gate value above which a column counts as selected.
    """

    def __init__(
        self,
        module,
        *args,
        sparsity_weights=None,
        invariance="vrex",
        invariance_weight=100.0,
        invariance_warmup=10,
        redundancy=0.0,
        n_domains=1,
        balance_domains=True,
        loss_scale=1.0,
        n_iter_no_change=None,
        threshold=0.5,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.loss_scale = loss_scale
        self.n_iter_no_change = n_iter_no_change
        self.threshold = threshold
        self.sparsity_weights = sparsity_weights
        self.invariance = invariance
        self.invariance_weight = invariance_weight
        self.invariance_warmup = invariance_warmup
        self.redundancy = redundancy
        self.n_domains = n_domains
        self.balance_domains = balance_domains

    @property
    def _default_callbacks(self):
        # Without verbose, no epoch log: PrintLog formats a table row every epoch (about a
        # millisecond) even when it prints nothing.
        return [
            (name, PlainPrintLog() if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
            if name != "print_log" or self.verbose
        ]

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # skorch stops quietly on KeyboardInterrupt and keeps the half-trained module; an
        # estimator must not look fitted after a Ctrl-C, so that interrupt travels up as an
        # exception. A callback that ends training the skorch way (EarlyStopping raises
        # KeyboardInterrupt) still ends it quietly.
        self._settling = None
        self._listeners = {name: self._listening(name) for name in _STEP_EVENTS}
        self._closure_free = all(
            type(getattr(self, name + "_")) in _CLOSURE_FREE for name in self._optimizers
        )
        self._direct = self._direct_gradient_applies()
        if self.n_iter_no_change is not None and self.module_.gate is not None:
            self._settling = _Settling(
                self.n_iter_no_change, self.invariance_warmup, epochs or self.max_epochs
            )
        try:
            with _watch_ctrl_c() as pressed:
                return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except _Converged:
            return self
        except KeyboardInterrupt as exc:
            if pressed.is_set():
                raise TrainingInterrupted from exc
            raise
        finally:
            del self._settling, self._listeners, self._closure_free, self._direct
            self._batch_layout = None

    def notify(self, method_name, **cb_kwargs):
        super().notify(method_name, **cb_kwargs)
        settling = getattr(self, "_settling", None)
        if method_name != "on_epoch_end" or settling is None:
            return
        if settling.update(len(self.history), self.module_.gate, self.threshold):
            # After every callback has seen the epoch: the history stays complete.
            self.history.record("stopped_early", True)
            raise _Converged

    def get_iterator(self, dataset, training=False):
        balance = training and self.balance_domains and self.n_domains > 1
        iterator = BatchIterator(dataset, self.batch_size, training=training, balance=balance)
        if training:
            layout = iterator.layout()
            # Every code 0..n_domains-1 has rows: one row of the loss matrix per domain code.
            self._batch_layout = layout if layout and layout[0] == self.n_domains else None
        return iterator

    def _listening(self, event):
        """The callbacks (the net first) whose ``event`` method does something.

        skorch's ``Callback`` methods do nothing; calling them once per batch costs time
        and changes nothing, so the training loop calls only the overridden ones.
        """
        own = getattr(type(self), event) is not getattr(NeuralNet, event)
        listeners = [self] if own else []
        for _, callback in self.callbacks_:
            if getattr(type(callback), event, None) is not getattr(Callback, event):
                listeners.append(callback)
        return listeners

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch, with the per-batch bookkeeping done directly.

        Each batch gets its history row with ``train_loss`` and ``train_batch_size`` (what
        skorch's scoring callbacks read), and every callback that does something on batch
        begin and end is called as skorch calls it.
        """
        listeners = getattr(self, "_listeners", None)
        if iterator is None or not training or listeners is None:
            return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        history = self.history
        begin, end = listeners["on_batch_begin"], listeners["on_batch_end"]
        loss_key, size_key = prefix + "_loss", prefix + "_batch_size"
        count = 0
        for batch in iterator:
            history.new_batch()  # as NeuralNet.on_batch_begin does
            for listener in begin:
                listener.on_batch_begin(self, batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            history.record_batch(loss_key, step["loss"].item())
            history.record_batch(size_key, len(batch[0]))
            for listener in end:
                listener.on_batch_end(self, batch=batch, training=training, **step)
            count += 1
        self.history.record(prefix + "_batch_count", count)

    def train_step(self, batch, **fit_params):
        """One optimizer step, without skorch's closure when the optimizer needs none.

        Adam, AdamW and SGD evaluate no closure: the gradients are computed once and the
        step is taken, as skorch's ``train_step`` does through the closure. Any other
        optimizer (L-BFGS re-evaluates the loss) goes through skorch's ``train_step``.
        """
        listeners = getattr(self, "_listeners", None)
        if listeners is None or not self._closure_free:
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        if listeners["on_grad_computed"]:
            named = TeeGenerator(self.get_all_learnable_params())
            for listener in listeners["on_grad_computed"]:
                listener.on_grad_computed(self, named_parameters=named, batch=batch, training=True)
        self._step_optimizer(None)
        return step

    def current_invariance_weight(self):
        """Invariance weight of the running epoch (linear warm-up)."""
        if self.invariance is None:
            return 0.0
        epoch = max(len(self.history) - 1, 0)
        if self.invariance_warmup <= 0:
            return float(self.invariance_weight)
        return float(self.invariance_weight) * min(1.0, epoch / self.invariance_warmup)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        self._epoch_invariance_weight = self.current_invariance_weight()
        self._batch_terms = []

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(net, dataset_train, dataset_valid, **kwargs)
        if self._batch_terms:
            for name, values in zip(_TERMS, zip(*self._batch_terms)):
                present = [v for v in values if v is not None]
                mean = torch.stack(present).mean().item() if present else 0.0
                self.history.record(name, mean)
        self.history.record("invariance_weight", self._epoch_invariance_weight)
        gate = self.module_.gate
        if gate is not None:
            self.history.record("open_gates", int((gate.gate_values() > 0).sum()))

    def train_step_single(self, batch, **fit_params):
        """skorch's training step on a ``(X, (y, domain))`` tensor batch.

        The module's forward takes the packed tensor directly (no conversion of the batch)
        and switches to training mode only when it is not in it already.
        """
        if not self.module_.training:
            self._set_training(True)
        Xi, yi = batch
        if getattr(self, "_direct", None) and not fit_params:
            step = self._direct_step(Xi, yi)
            if step is not None:
                return step
        if self.invariance in FEATURE_PENALTIES and not fit_params:
            # A feature-matching penalty reads the representation of the same gate draw.
            outputs, features = self.module_.forward_with_features(Xi)
            self._features = features
            y_pred = (outputs, None)
        else:
            # The gated columns themselves are needed by the redundancy term only.
            gated = self.redundancy > 0 and self.module_.n_guidance > 0
            y_pred = self.module_(Xi, return_gated=gated, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        self._features = None
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def _direct_gradient_applies(self):
        """The loss kind (:func:`~sklearn_seqinv.nn.losses.hand_derivative_kind`) when
        training batches can take :meth:`_direct_step` (same loss and gradients), else a
        false value.

        That is a linear head on the gated columns, a squared-error or (unweighted)
        cross-entropy criterion, the V-REx penalty or none, and no redundancy term: the loss
        of a balanced batch and its gradient then have a short closed form.
        """
        module = self.module_
        if type(module) is not GatedHead or not isinstance(module.head, torch.nn.Linear):
            return False
        if module.head.bias is None or self.invariance not in (None, "vrex"):
            return False
        if module.gate is not None and not hasattr(module.gate, "sample_with_derivative"):
            return False
        if self.redundancy > 0 and module.n_guidance > 0:
            return False
        return hand_derivative_kind(self.criterion_)

    def _direct_step(self, X, y_true):
        """Loss and gradients of a balanced training batch without the autograd graph of
        the head, the loss and the risks; ``None`` for any other batch.

        The same objective as :meth:`get_loss` (mean per-domain risk, V-REx with the
        sampling-noise correction, sparsity), differentiated by hand for the linear head:
        with per-row loss weights ``g_i`` (from the risks), ``dL/dW_eff = G^T X`` where
        ``W_eff`` is the head weight scaled by the gate draw ``z``, and the gate's
        parameter gets ``dL/dz`` times the derivative of its draw plus the sparsity weight
        times that of its open probability (``sample_with_derivative``). No autograd graph
        is built; the gradients agree with autograd's to float rounding (tested).
        """
        layout = self._balanced_layout(X.shape[0])
        if layout is None:
            return None
        target, _ = y_true
        module = self.module_
        head, gate, n_guidance = module.head, module.gate, module.n_guidance
        weight, bias = head.weight, head.bias
        with torch.no_grad():
            scale = weight
            if gate is not None:
                z, dz = gate.sample_with_derivative()
                zd = torch.nn.functional.pad(z, (n_guidance, 0), value=1.0) if n_guidance else z
                scale = weight * zd
            outputs = torch.addmm(bias, X, scale.t())
            losses, d_outputs = loss_and_output_gradient(outputs, target, self._direct)
            if self.loss_scale != 1.0:
                losses = losses / self.loss_scale
                d_outputs = d_outputs / self.loss_scale
            n_domains, rows = layout
            risks, mean, spread = self._balanced_risks(losses, layout)
            total, penalty = mean, None
            # d total / d risk_e: 1/K for the mean, plus the V-REx term where it is active.
            d_risks = torch.full_like(risks, 1.0 / n_domains)
            if spread is not None:
                penalty = torch.clamp(spread, min=0.0)
                weight_now = self._epoch_invariance_weight
                if weight_now > 0:
                    total = total + weight_now * penalty
                    if spread >= 0:  # clamp passes the gradient at and above its bound
                        d_risks += (2.0 * weight_now / n_domains) * (risks - mean)
            d_rows = (d_risks / rows).repeat_interleave(rows)
            grad = d_outputs.mul_(d_rows.unsqueeze(1))
            d_scale = grad.t().mm(X)
            _accumulate(bias, grad.sum(dim=0))
            sparsity = None
            if gate is None:
                _accumulate(weight, d_scale)
            else:
                _accumulate(weight, d_scale * zd)
                # d L / d z_j, then through the draw; the sparsity term's own derivative.
                d_param = (d_scale * weight).sum(dim=0)[n_guidance:].mul_(dz)
                if self.sparsity_weights is not None:
                    opening, d_opening = gate.open_probability_with_derivative()
                    sparsity = sparsity_penalty(opening, self.sparsity_weights)
                    total = total + sparsity
                    d_param += d_opening * self.sparsity_weights
                (param,) = gate.parameters()
                _accumulate(param, d_param)
        self._batch_terms.append([mean, penalty, sparsity, None])
        return {"loss": total, "y_pred": (outputs, None)}

    def per_sample_loss(self, outputs, target):
        """Task loss of each sample (multi-output regression averages over outputs)."""
        losses = self.criterion_(outputs, target)
        if self.loss_scale != 1.0:
            losses = losses / self.loss_scale
        return losses.mean(dim=1) if losses.dim() > 1 else losses

    def _balanced_terms(self, losses):
        """Mean risk and V-REx penalty of a balanced batch, or ``None`` for any other batch.

        In a balanced training batch every domain has the same number of rows, domain after
        domain (:meth:`BatchIterator.layout`): the per-domain risks are the row means of the
        losses viewed as a matrix, and their sampling variance its row variances over the
        row count. This is :func:`~sklearn_seqinv.nn.losses.vrex_penalty` with
        :func:`~sklearn_seqinv.nn.losses.risk_sampling_variance`, without the bookkeeping
        for absent domains and unequal counts that such a batch cannot have.
        """
        layout = self._balanced_layout(losses.shape[0])
        if layout is None or self.invariance not in (None, "vrex"):
            return None
        _, mean, spread = self._balanced_risks(losses, layout)
        return mean, None if spread is None else torch.clamp(spread, min=0.0)

    def _balanced_layout(self, n_rows):
        """``(n_domains, rows_per_domain)`` when a batch of ``n_rows`` is balanced, else None."""
        layout = getattr(self, "_batch_layout", None)
        if layout is None or n_rows != layout[0] * layout[1]:
            return None
        return layout

    def _balanced_risks(self, losses, layout):
        """Per-domain risks, their mean and (with V-REx) their variance less the part that
        batch sampling explains, of a balanced batch's losses; the spread is ``None``
        without a penalty. Floored at 0 it is the V-REx penalty."""
        n_domains, rows = layout
        by_domain = losses.view(n_domains, rows)
        risks = by_domain.mean(dim=1)
        mean = risks.mean()
        if self.invariance is None:
            return risks, mean, None
        noise = by_domain.detach().var(dim=1).sum() * ((n_domains - 1) / (n_domains**2 * rows))
        return risks, mean, risks.var(correction=0) - noise

    def _risk_terms(self, outputs, target, domain, losses):
        """Mean risk and invariance penalty of any batch."""
        risks, present = domain_risks(losses, domain, self.n_domains)
        mean = mean_risk(risks, present)
        if self.invariance is None:
            return mean, None
        # Minibatch risks are noisy: V-REx subtracts their sampling variance.
        batch = RiskBatch(
            losses,
            outputs,
            target,
            domain,
            self.n_domains,
            self.per_sample_loss,
            risks,
            present,
            mean,
            noise_corrected=True,
            features=getattr(self, "_features", None),
        )
        if self.invariance in FEATURE_PENALTIES and batch.features is None:
            return mean, None  # no representation at hand (scoring, not training)
        return mean, INVARIANCE_PENALTIES[self.invariance](batch)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        outputs, gated = y_pred
        target, domain = y_true
        losses = self.per_sample_loss(outputs, target)
        inv_weight = getattr(self, "_epoch_invariance_weight", None)
        if inv_weight is None:
            inv_weight = self.current_invariance_weight()
        risk_terms = self._balanced_terms(losses) if training else None
        if risk_terms is None:
            risk_terms = self._risk_terms(outputs, target, domain, losses)
        terms = [*risk_terms, None, None]
        total = terms[0]
        if terms[1] is not None and inv_weight > 0:
            total = total + inv_weight * terms[1]
        gate = self.module_.gate
        if gate is not None and self.sparsity_weights is not None:
            terms[2] = sparsity_penalty(gate.open_probability(), self.sparsity_weights)
            total = total + terms[2]
        n_guidance = self.module_.n_guidance
        if self.redundancy > 0 and n_guidance > 0:
            terms[3] = redundancy_penalty(gated, X[:, :n_guidance])
            total = total + self.redundancy * terms[3]
        if training:
            # Detached scalars, reduced once per epoch: no per-batch synchronisation.
            self._batch_terms.append([None if t is None else t.detach() for t in terms])
        return total
