"""The skorch layer runs skorch's own training loop through its public extension points."""

import numpy as np
import pytest
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, GradientNormClipping

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.net import ArrayDataset, BatchIterator, BatchTarget, GatedNet
from sklearn_seqinv.nn.losses import (
    balanced_risks,
    domain_risks,
    risk_sampling_variance,
    vrex_penalty,
)


@pytest.mark.parametrize(
    "method", ["fit_loop", "run_single_epoch", "train_step", "train_step_single", "notify"]
)
def test_skorchs_training_chain_runs_unmodified(method):
    assert getattr(GatedNet, method) is getattr(NeuralNet, method)


class CountingCallback(Callback):
    """Counts the per-batch events it receives."""

    def initialize(self):
        self.begin = self.end = self.grads = 0
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        self.begin += 1

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        assert "loss" in kwargs and "y_pred" in kwargs
        self.end += 1

    def on_grad_computed(self, net, named_parameters, batch=None, training=False, **kwargs):
        assert all(p.grad is not None for _, p in named_parameters)
        self.grads += 1


def test_batch_callbacks_and_history_rows_as_in_skorch(small_domains):
    counter = CountingCallback()
    selector = InvariantMaskSelector(
        max_epochs=3, n_iter_no_change=None, callbacks=[counter], random_state=0
    ).fit(small_domains.X, small_domains.y, sample_domain=small_domains.sample_domain)
    history = selector.history_
    n_batches = sum(history[:, "train_batch_count"])
    assert counter.begin == counter.end == counter.grads == n_batches
    for epoch in range(len(history)):
        sizes = history[epoch, "batches", :, "train_batch_size"]
        losses = history[epoch, "batches", :, "train_loss"]
        # skorch's train_loss of the epoch: the size-weighted mean of the batch losses.
        assert history[epoch, "train_loss"] == pytest.approx(np.average(losses, weights=sizes))


def test_gradient_clipping_callback_sees_the_gradients(small_domains):
    fit = dict(sample_domain=small_domains.sample_domain)
    args = (small_domains.X, small_domains.y)
    free = InvariantMaskSelector(max_epochs=3, random_state=0).fit(*args, **fit)
    clipped = InvariantMaskSelector(
        max_epochs=3, random_state=0, callbacks=[GradientNormClipping(gradient_clip_value=1e-6)]
    ).fit(*args, **fit)
    # Clipped to almost nothing, the gates barely move from where they started.
    assert np.abs(clipped.gates_ - 1.0).max() < np.abs(free.gates_ - 1.0).max()
    assert not np.allclose(clipped.gates_, free.gates_)


def test_an_optimizer_that_needs_a_closure_still_trains(small_domains):
    # L-BFGS re-evaluates the loss: the step goes through skorch's closure (one parameter
    # group: no separate weight decay for the head).
    selector = InvariantMaskSelector(
        optimizer=torch.optim.LBFGS, lr=0.1, weight_decay=0.0, max_epochs=2, random_state=0
    ).fit(small_domains.X, small_domains.y, sample_domain=small_domains.sample_domain)
    assert np.isfinite(selector.history_[:, "train_loss"]).all()


def _balanced_batches(n_rows=(50, 80, 65), batch_size=96, seed=0):
    domain = torch.cat([torch.full((n,), code) for code, n in enumerate(n_rows)])
    rows = torch.arange(len(domain), dtype=torch.float32)[:, None]
    dataset = ArrayDataset(rows, torch.zeros(len(domain), dtype=torch.long), domain)
    torch.manual_seed(seed)
    iterator = BatchIterator(dataset, batch_size, training=True, balance=True)
    return dataset, iterator, list(iterator)


def test_balanced_batches_hold_each_domain_in_turn():
    dataset, _, batches = _balanced_batches()
    for X, target in batches:
        quota = target.rows_per_domain
        assert quota == max(BatchIterator.MIN_DOMAIN_ROWS, 96 // 3)
        # The batch's domains as given equal those of the rows it holds.
        assert torch.equal(target.domain, dataset.domain[X[:, 0].long()])
        assert torch.equal(target.domain, torch.arange(3).repeat_interleave(quota))


def test_balanced_risks_equal_the_general_ones():
    losses = torch.rand(3 * 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    domain = torch.arange(3).repeat_interleave(40)
    risks, noise = balanced_risks(losses, 3)
    expected, present = domain_risks(losses, domain, 3)
    torch.testing.assert_close(risks, expected)
    torch.testing.assert_close(noise, risk_sampling_variance(losses, domain, 3))
    torch.testing.assert_close(
        vrex_penalty(risks, sampling_variance=noise),
        vrex_penalty(expected, present, sampling_variance=noise),
    )


@pytest.mark.parametrize("invariance", ["vrex", "irm", None])
def test_a_balanced_batch_has_the_loss_of_any_batch(small_domains, invariance):
    # The loss of a balanced batch (risks from a view) is the loss of the same rows taken
    # as any batch (risks by domain code), penalty included.
    selector = InvariantMaskSelector(max_epochs=1, invariance=invariance, random_state=0)
    selector.fit(small_domains.X, small_domains.y, sample_domain=small_domains.sample_domain)
    net = selector.net_
    generator = torch.Generator().manual_seed(0)
    outputs = torch.randn(3 * 40, 2, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 2, (120,), generator=generator)
    domain = torch.arange(3).repeat_interleave(40)
    outputs = outputs * (1.0 + 2.0 * domain)[:, None]  # risks far apart across domains
    balanced = net.risk_terms((outputs, None), BatchTarget(y, domain, 40))
    general = net.risk_terms((outputs, None), BatchTarget(y, domain))
    torch.testing.assert_close(balanced[0], general[0])
    if invariance is None:
        assert balanced[1] is None and general[1] is None
    else:
        assert float(general[1]) > 0
        torch.testing.assert_close(balanced[1], general[1])


def test_every_term_of_the_loss_is_in_the_history_per_batch_and_epoch(small_domains):
    selector = InvariantMaskSelector(
        max_epochs=12, n_iter_no_change=None, invariance_warmup=10, random_state=0
    ).fit(small_domains.X, small_domains.y, sample_domain=small_domains.sample_domain)
    history = selector.history_
    for name in ("task_loss", "invariance_penalty", "sparsity_penalty", "redundancy_penalty"):
        for epoch in range(len(history)):
            sizes = history[epoch, "batches", :, "train_batch_size"]
            values = history[epoch, "batches", :, name]
            assert history[epoch, name] == pytest.approx(np.average(values, weights=sizes))
    # The warm-up callback ramps the weight linearly from 0, then holds it.
    weights = history[:, "invariance_weight"]
    assert weights[:11] == pytest.approx([100.0 * e / 10 for e in range(11)])
    assert weights[11] == 100.0


def test_training_ends_the_skorch_way(small_domains):
    # skorch's EarlyStopping ends training quietly (no TrainingInterrupted), and so does the
    # settling rule, which marks its last epoch.
    args = (small_domains.X, small_domains.y)
    stopper = EarlyStopping(monitor="train_loss", patience=1, threshold=10.0)
    stopped = InvariantMaskSelector(max_epochs=30, callbacks=[stopper], random_state=0)
    stopped.fit(*args, sample_domain=small_domains.sample_domain)
    assert len(stopped.history_) < 30
    settled = InvariantMaskSelector(
        max_epochs=300, n_iter_no_change=3, invariance_warmup=2, random_state=0
    ).fit(*args, sample_domain=small_domains.sample_domain)
    assert len(settled.history_) < 300 and settled.history_[-1]["stopped_early"]
