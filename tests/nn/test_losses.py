"""Penalties as plain tensor functions."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from sklearn_seqinv.nn import (
    domain_risks,
    irm_penalty,
    mean_risk,
    redundancy_penalty,
    sparsity_penalty,
    vrex_penalty,
)


def _ce(outputs, target):
    return F.cross_entropy(outputs, target, reduction="none")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.integers(0, 3)), min_size=1, max_size=30))
def test_domain_risks_match_numpy_group_means(rows):
    losses = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    domain = torch.tensor([r[1] for r in rows])
    risks, present = domain_risks(losses, domain, 4)
    for e in range(4):
        members = [r[0] for r in rows if r[1] == e]
        assert bool(present[e]) == bool(members)
        if members:
            assert np.isclose(float(risks[e]), np.mean(members))
    expected = np.mean([np.mean([r[0] for r in rows if r[1] == e]) for e in set(domain.tolist())])
    assert np.isclose(float(mean_risk(risks, present)), expected)


def test_vrex_is_zero_for_equal_risks_and_one_domain():
    assert float(vrex_penalty(torch.tensor([0.7, 0.7, 0.7]))) == 0.0
    assert float(vrex_penalty(torch.tensor([0.3, 9.0]), torch.tensor([True, False]))) == 0.0
    assert float(vrex_penalty(torch.tensor([1.0, 3.0]))) == 1.0


def test_irm_penalty_is_zero_with_one_domain_and_positive_with_two():
    torch.manual_seed(0)
    outputs = torch.randn(8, 2, requires_grad=True)
    target = torch.randint(0, 2, (8,))
    one = irm_penalty(outputs, target, torch.zeros(8, dtype=torch.long), 2, _ce)
    two = irm_penalty(outputs, target, torch.arange(8) % 2, 2, _ce)
    assert one.item() == 0.0
    assert two.item() > 0.0
    two.backward()
    assert outputs.grad is not None


def test_irm_penalty_matches_a_per_domain_loop():
    torch.manual_seed(1)
    outputs = torch.randn(10, 3)
    target = torch.randint(0, 3, (10,))
    domain = torch.arange(10) % 2
    expected = []
    for e in range(2):
        scale = torch.ones((), requires_grad=True)
        rows = domain == e
        risk = _ce(outputs[rows] * scale, target[rows]).mean()
        (grad,) = torch.autograd.grad(risk, scale)
        expected.append(grad**2)
    got = irm_penalty(outputs, target, domain, 2, _ce)
    torch.testing.assert_close(got, torch.stack(expected).mean())


def test_sparsity_penalty_weights_each_gate():
    value = sparsity_penalty(torch.tensor([1.0, 0.5]), torch.tensor([0.2, 0.4]))
    torch.testing.assert_close(value, torch.tensor(0.4))


def test_redundancy_penalty_is_high_for_copies_and_low_for_independent_features():
    torch.manual_seed(0)
    a, b = torch.randn(500, 2), torch.randn(500, 2)
    assert float(redundancy_penalty(a, a)) > 0.45
    assert float(redundancy_penalty(a, b)) < 0.01
    assert float(redundancy_penalty(a, torch.empty(500, 0))) == 0.0


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_irm_penalty_is_domainbeds_irmv1_per_domain(loss):
    # DomainBed's IRMv1, one domain at a time: the squared gradient of the domain's risk
    # with respect to a dummy scale on its outputs; the penalty is their mean. The vectorized
    # penalty is that, differentiable in the outputs, and computable under no_grad.
    generator = torch.Generator().manual_seed(0)
    outputs = torch.randn(60, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    domain = torch.randint(0, 3, (60,), generator=generator)
    if loss == "cross_entropy":
        target = torch.randint(0, 3, (60,), generator=generator)

        def loss_fn(o, t):
            return F.cross_entropy(o, t, reduction="none")

    else:
        target = torch.randn(60, 3, generator=generator, dtype=torch.float64)

        def loss_fn(o, t):
            return F.mse_loss(o, t, reduction="none").mean(dim=1)

    squares = []
    for code in range(3):
        rows = domain == code
        scale = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        risk = loss_fn(outputs[rows] * scale, target[rows]).mean()
        (grad,) = torch.autograd.grad(risk, scale, create_graph=True)
        squares.append(grad**2)
    expected = torch.stack(squares).mean()
    penalty = irm_penalty(outputs, target, domain, 3, loss_fn)
    torch.testing.assert_close(penalty, expected)
    torch.testing.assert_close(
        torch.autograd.grad(penalty, outputs)[0], torch.autograd.grad(expected, outputs)[0]
    )
    with torch.no_grad():
        torch.testing.assert_close(irm_penalty(outputs, target, domain, 3, loss_fn), expected)


def _squared(outputs, target):
    return ((outputs - target) ** 2).mean(dim=1)


def _coral_pairwise(features, domain):
    """DomainBed's CORAL: the mean over pairs of domains of mean- and covariance-distances."""
    parts = [features[domain == d] for d in torch.unique(domain)]
    total, pairs = 0.0, 0
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            x, y = parts[i], parts[j]
            mean_x, mean_y = x.mean(0, keepdim=True), y.mean(0, keepdim=True)
            cova_x = (x - mean_x).T @ (x - mean_x) / (len(x) - 1)
            cova_y = (y - mean_y).T @ (y - mean_y) / (len(y) - 1)
            total += (mean_x - mean_y).pow(2).mean() + (cova_x - cova_y).pow(2).mean()
            pairs += 1
    return total / pairs


@pytest.mark.parametrize("n_domains", [2, 3, 5])
def test_coral_penalty_equals_domainbeds_pairwise_sum(n_domains):
    from sklearn_seqinv.nn import coral_penalty

    torch.manual_seed(n_domains)
    features = torch.randn(60, 4) + torch.arange(60).unsqueeze(1) % n_domains * 0.3
    domain = torch.arange(60) % n_domains
    expected = _coral_pairwise(features, domain)
    assert torch.allclose(coral_penalty(features, domain, n_domains), expected, atol=1e-6)


def test_coral_penalty_is_zero_with_one_environment_and_ignores_singletons():
    from sklearn_seqinv.nn import coral_penalty

    features = torch.randn(10, 3)
    assert coral_penalty(features, torch.zeros(10, dtype=torch.long), 1) == 0
    domain = torch.tensor([0] * 9 + [1])  # domain 1 has one row: no covariance
    assert coral_penalty(features, domain, 2) == 0
