"""The skorch layer's lean training loop does what skorch's own loop does."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, GradientNormClipping

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv._net import ArrayDataset, BatchIterator
from sklearn_seqinv.nn.losses import risk_sampling_variance, vrex_penalty


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
    dataset, iterator, batches = _balanced_batches()
    n_domains, quota = iterator.layout()
    for X, (_, domain) in batches:
        # The batch's domains as given equal those of the rows it holds.
        assert torch.equal(domain, dataset.domain[X[:, 0].long()])
        assert torch.equal(domain, torch.arange(n_domains).repeat_interleave(quota))


def test_balanced_batch_risk_terms_equal_the_general_ones():
    losses = torch.rand(3 * 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    domain = torch.arange(3).repeat_interleave(40)
    selector = InvariantMaskSelector(max_epochs=1, random_state=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    selector.fit(X, (X[:, 0] > 0).astype(int), sample_domain=domain.numpy())
    net = selector.net_
    net._batch_layout = (3, 40)
    mean, penalty = net._balanced_terms(losses)
    risks = losses.view(3, 40).mean(dim=1)
    present = torch.ones(3, dtype=torch.bool)
    expected = vrex_penalty(
        risks,
        present,
        sampling_variance=risk_sampling_variance(losses, domain, 3),
    )
    torch.testing.assert_close(mean, risks.mean())
    torch.testing.assert_close(penalty, expected)
    general = net._risk_terms(None, None, domain, losses)
    torch.testing.assert_close(general[0], mean)
    torch.testing.assert_close(general[1], penalty)
