"""Penalties as plain tensor functions."""

import copy

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


@pytest.mark.parametrize("shape", [(300, 20), (40, 100)])
def test_ridge_head_is_scikit_learns_ridge_with_domain_weights(shape):
    # More rows than columns and fewer: the domain-weighted objective is Ridge with each row
    # weighted by 1 / (n_e * n_domains) and Ridge's alpha = n_outputs * alpha / 2, and every
    # weight of a path is that Ridge.
    from sklearn.linear_model import Ridge

    from sklearn_seqinv.nn import OutputMean
    from sklearn_seqinv.nn.refit import _LinearFit, fit_head

    rng = np.random.default_rng(0)
    X = rng.standard_normal(shape)
    y = X[:, :3] @ np.array([[1.0, 0.5], [-2.0, 0.0], [0.5, 1.0]]) + rng.standard_normal(
        (shape[0], 2)
    )
    domain = rng.integers(0, 3, shape[0])
    counts = np.bincount(domain)
    weight = 1.0 / (counts[domain] * 3)
    tensors = [torch.from_numpy(a) for a in (X, y, domain)]
    alphas = [1.0, 1e-2]
    path = _LinearFit("ridge", *tensors, 3, 2).path(alphas)
    squared = OutputMean(torch.nn.MSELoss(reduction="none"))
    for alpha, (coef, intercept) in zip(alphas, path):
        ridge = Ridge(alpha=2 * alpha / 2.0).fit(X, y, sample_weight=weight)
        np.testing.assert_allclose(coef, ridge.coef_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(intercept, ridge.intercept_, rtol=1e-6, atol=1e-8)
        head = fit_head(torch.nn.Linear(shape[1], 2).double(), *tensors, 3, squared, alpha=alpha)
        np.testing.assert_allclose(head.weight.detach().numpy(), ridge.coef_, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", ["ce2", "ce3", "se1", "se2"])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("codes", [(0, 2), (1,)], ids=["two-domains", "one-domain"])
def test_scikit_learn_head_minimizes_the_torch_objective(loss, alpha, codes):
    # The head scikit-learn fits (the loss recognized) and the head torch's L-BFGS fits
    # through autograd (the same loss as a plain function) reach the same minimum of the
    # objective: the weight conversions (C = 2 / alpha for two classes, 1 / alpha for more,
    # Ridge's n_outputs * alpha / 2) and the domain weights are right.
    from sklearn_seqinv.nn import OutputMean
    from sklearn_seqinv.nn.refit import _linear_kind, _objective, fit_head

    torch.manual_seed(0)
    X = torch.randn(90, 5)
    width = int(loss[-1])
    if loss.startswith("ce"):
        y = (X[:, 0] + 0.8 * torch.randn(90) > 0).long() + (width == 3) * (X[:, 1] > 0.5).long()
        loss_fn, plain = torch.nn.CrossEntropyLoss(reduction="none"), _ce
    else:
        y = X[:, :width] * 2.0 + torch.randn(90, width)
        loss_fn, plain = OutputMean(torch.nn.MSELoss(reduction="none")), _squared
    # Unequal domains and an absent code (or a single domain).
    domain = torch.tensor([codes[0]] * 20 + [codes[-1]] * 70)
    head = torch.nn.Linear(5, width)
    assert _linear_kind(head, loss_fn, y) is not None and _linear_kind(head, plain, y) is None
    fitted, autograd = (
        fit_head(copy.deepcopy(head), X, y, domain, 3, fn, alpha=alpha) for fn in (loss_fn, plain)
    )
    objective = (domain, 3, loss_fn, alpha, None, 0.0, None)
    with torch.no_grad():  # a shift of every class's bias changes no probability
        minima = [float(_objective(h, X, y, *objective)) for h in (fitted, autograd)]
        outputs = [h(X) for h in (fitted, autograd)]
        if loss.startswith("ce"):
            outputs = [torch.softmax(o, dim=1) for o in outputs]
    assert minima[0] == pytest.approx(minima[1], rel=1e-4, abs=1e-5)
    torch.testing.assert_close(*outputs, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize(
    "case",
    [
        "ce-with-penalty",
        "mlp-head",
        "label-smoothing",
        "absolute-error",
        "plain-function",
        "absent-class",
    ],
)
def test_scikit_learn_fits_only_where_no_penalty_acts_on_a_plain_linear_head(case, monkeypatch):
    from sklearn_seqinv.nn import OutputMean, refit

    X, y = torch.randn(10, 3), torch.tensor([0, 1] * 5)
    domain = torch.tensor([0] * 5 + [1] * 5)
    head = torch.nn.Linear(3, 2)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    invariance, weight = None, 0.0
    if case == "ce-with-penalty":
        invariance, weight = "irm", 1.0
    elif case == "mlp-head":
        head = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    elif case == "label-smoothing":
        loss_fn = torch.nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1)
    elif case == "absolute-error":
        loss_fn, y = OutputMean(torch.nn.L1Loss(reduction="none")), torch.randn(10, 2)
    elif case == "absent-class":
        head = torch.nn.Linear(3, 3)  # class 2 has no row: no LogisticRegression over it
    else:
        loss_fn = _ce

    def refuse(*args, **kwargs):
        raise AssertionError("scikit-learn was asked to fit this head")

    monkeypatch.setattr(refit, "_LinearFit", refuse)
    refit.fit_head(head, X, y, domain, 2, loss_fn, invariance=invariance, invariance_weight=weight)
    refit.select_alpha(
        head, X, y, domain, 2, loss_fn, invariance=invariance, invariance_weight=weight
    )


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_irm_closed_form_gradient_matches_autograd(loss):
    # The closed-form dR_e/dw_e gives the same penalty, and the same gradient of the penalty
    # with respect to the outputs, as the second-order autograd pass.
    from sklearn_seqinv.nn import irm_scale_gradient

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

    auto = irm_penalty(outputs, target, domain, 3, loss_fn)
    (auto_grad,) = torch.autograd.grad(auto, outputs)
    closed = irm_penalty(outputs, target, domain, 3, loss_fn, irm_scale_gradient(loss))
    (closed_grad,) = torch.autograd.grad(closed, outputs)
    torch.testing.assert_close(closed, auto)
    torch.testing.assert_close(closed_grad, auto_grad)


def test_penalized_head_with_one_domain_is_the_ridge_and_improves_on_it_otherwise():
    from sklearn.linear_model import Ridge

    from sklearn_seqinv.nn.refit import _load_linear, _objective, fit_head

    generator = torch.Generator().manual_seed(0)
    X = torch.randn(200, 5, generator=generator)
    y = X[:, :1] * 2.0 + torch.randn(200, 1, generator=generator)

    def squared(o, t):
        return F.mse_loss(o, t, reduction="none").mean(dim=1)

    penalized = dict(alpha=0.1, invariance="vrex", invariance_weight=10.0)

    def ridge(domain, n_domains):
        weights = 1.0 / (torch.bincount(domain)[domain] * n_domains).double().numpy()
        fitted = Ridge(alpha=0.1 / 2.0).fit(
            X.double().numpy(), y.double().numpy().ravel(), sample_weight=weights
        )
        return torch.tensor(fitted.coef_).reshape(1, -1), torch.tensor([fitted.intercept_])

    one = torch.zeros(200, dtype=torch.long)
    head = fit_head(torch.nn.Linear(5, 1), X, y, one, 1, squared, **penalized)
    # One domain: every invariance penalty is zero, so the fit is the ridge solution itself.
    weight, bias = ridge(one, 1)
    torch.testing.assert_close(head.weight.detach().double(), weight, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(head.bias.detach().double(), bias, rtol=1e-5, atol=1e-6)
    # Several domains, the tie of column 0 changing across them: L-BFGS starts from the
    # ridge optimum and lowers the penalized objective from there.
    three = torch.arange(3).repeat_interleave(67)[:200]
    y = y + X[:, :1] * three[:, None].float()
    head = fit_head(torch.nn.Linear(5, 1), X, y, three, 3, squared, **penalized)
    start = _load_linear(torch.nn.Linear(5, 1), *ridge(three, 3))
    args = (X, y, three, 3, squared, 0.1, "vrex", 10.0, None)
    with torch.no_grad():
        assert _objective(head, *args) < _objective(start, *args) - 1e-3


def _squared(outputs, target):
    return ((outputs - target) ** 2).mean(dim=1)


def test_alpha_path_stops_past_its_minimum(monkeypatch):
    from sklearn_seqinv.nn import refit

    torch.manual_seed(0)
    X = torch.randn(300, 20)
    y = (X[:, 0] + 0.5 * torch.randn(300) > 0).long()
    domain = torch.arange(300) % 3
    args = (torch.nn.Linear(20, 2), X, y, domain, 3, torch.nn.CrossEntropyLoss(reduction="none"))
    alphas = tuple(float(a) for a in np.logspace(2, -6, 9))
    alpha, losses, rows = refit.select_alpha(*args, alphas=alphas, by_domain=True)
    reached = np.isfinite(losses)
    n = int(reached.sum())
    assert reached[:n].all() and n < len(alphas)  # a prefix of the path, then nothing
    best = int(np.argmin(losses))
    assert n - 1 - best == refit.PATH_PATIENCE  # stopped that many weights past the best
    # The whole path chooses the same weight, with the same validation rows.
    monkeypatch.setattr(refit, "PATH_PATIENCE", len(alphas))
    alpha_all, losses_all, rows_all = refit.select_alpha(*args, alphas=alphas, by_domain=True)
    assert np.isfinite(losses_all).all()
    assert alpha_all == alpha and int(np.argmin(losses_all)) == best
    np.testing.assert_array_equal(losses_all[:n], losses[:n])
    np.testing.assert_array_equal(rows_all, rows)


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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hidden_layer_alpha_path_escapes_the_collapsed_network(seed):
    # A strong L2 weight shrinks a ReLU head to all-zero weights, where every gradient is
    # zero; a path warm-started from there stays a constant predictor at every weaker weight.
    from sklearn_seqinv.nn import make_head
    from sklearn_seqinv.nn.refit import fit_head, select_alpha

    torch.manual_seed(seed)
    X = torch.randn(400, 10)
    y = (X[:, 0] + X[:, 1] > 0).long()
    domain = torch.arange(400) % 4
    args = (X, y, domain, 4, torch.nn.CrossEntropyLoss(reduction="none"))
    alpha, _, _ = select_alpha(make_head(10, 2, hidden_units=8), *args, seed=seed)
    head = fit_head(make_head(10, 2, hidden_units=8), *args, alpha=alpha)
    predicted = head(X).argmax(dim=1)
    assert alpha < 10.0 and len(torch.unique(predicted)) == 2
    assert (predicted == y).float().mean() > 0.9
