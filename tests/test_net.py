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


def _direct_and_autograd(selector, X, y, domain, guidance=None, weight=None):
    """Loss, batch terms and gradients of one balanced batch by both training paths."""
    net = selector.net_
    module = net.module_.float().train()
    if weight is not None:
        net.invariance_weight = weight
    guide = np.zeros((len(X), 0)) if guidance is None else guidance
    inputs = torch.from_numpy(np.hstack([guide, X]).astype(np.float32))
    if selector.task_ == "classification":
        target = torch.from_numpy(np.searchsorted(selector.classes_, y))
    else:
        target = torch.from_numpy(np.asarray(y, dtype=np.float32).reshape(len(y), -1))
    codes = torch.from_numpy(np.unique(domain, return_inverse=True)[1])
    iterator = net.get_iterator(ArrayDataset(inputs, target, codes), training=True)
    net._epoch_invariance_weight = net.current_invariance_weight()
    torch.manual_seed(0)
    for batch in list(iterator):
        results = []
        for direct in (True, False):
            net._direct = direct and net._direct_gradient_applies()
            net._batch_terms = []
            for param in module.parameters():
                param.grad = None
            torch.manual_seed(3)  # the same gate draw for both paths
            step = net.train_step_single(batch)
            grads = {name: p.grad.clone() for name, p in module.named_parameters()}
            results.append((float(step["loss"].detach()), net._batch_terms[0], grads))
        penalty = results[1][1][1]
        # A batch whose V-REx term is active (not clamped at zero), where there is one.
        if penalty is None or penalty > 0:
            break
    del net._direct
    return results


@pytest.mark.parametrize("gate", ["stg", "hard_concrete"])
@pytest.mark.parametrize("invariance", ["vrex", None])
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("guided", [False, True])
def test_direct_gradients_equal_autograd(small_domains, gate, invariance, task, guided):
    X, domain = small_domains.X, small_domains.sample_domain
    rng = np.random.default_rng(0)
    y = small_domains.y.copy()
    if task == "regression":
        y = X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=len(X))
    # Other labels in one domain: unequal domain risks, so the V-REx term is active.
    noisy = domain == domain[0]
    y[noisy] = y.max() - y[noisy] if task == "classification" else 3 * y[noisy]
    guidance = X[:, :2] ** 2 if guided else None
    selector = InvariantMaskSelector(
        task=task, gate=gate, invariance=invariance, max_epochs=4, batch_size=48, random_state=0
    ).fit(X, y, sample_domain=domain, guidance=guidance)
    assert selector.net_._direct_gradient_applies()
    # A strong invariance weight makes the V-REx term act on the gradient.
    (loss, terms, grads), (ref_loss, ref_terms, ref_grads) = _direct_and_autograd(
        selector, X, y, domain, guidance, weight=1e3
    )
    assert invariance is None or ref_terms[1] > 0
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for term, ref in zip(terms, ref_terms):
        assert (term is None) == (ref is None)
        if term is not None:
            assert float(term) == pytest.approx(float(ref), rel=1e-5, abs=1e-7)
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_direct_gradients_for_several_classes_and_outputs(small_domains):
    X, domain = small_domains.X, small_domains.sample_domain
    rng = np.random.default_rng(1)
    for y in (rng.integers(0, 3, len(X)), rng.normal(size=(len(X), 2))):
        task = "classification" if y.ndim == 1 else "regression"
        selector = InvariantMaskSelector(task=task, max_epochs=4, random_state=0)
        selector.fit(X, y, sample_domain=domain)
        (loss, _, grads), (ref_loss, _, ref_grads) = _direct_and_autograd(
            selector, X, y, domain, weight=1e3
        )
        assert loss == pytest.approx(ref_loss, rel=1e-5)
        for name, grad in grads.items():
            torch.testing.assert_close(grad, ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize(
    "params",
    [{"hidden_units": 4}, {"invariance": "irm"}, {"redundancy": 1.0}],
    ids=["mlp-head", "irm", "redundancy"],
)
def test_direct_gradients_only_where_they_apply(small_domains, params):
    X, domain = small_domains.X, small_domains.sample_domain
    selector = InvariantMaskSelector(max_epochs=2, random_state=0, **params)
    selector.fit(X, small_domains.y, sample_domain=domain, guidance=X[:, :1])
    assert not selector.net_._direct_gradient_applies()
