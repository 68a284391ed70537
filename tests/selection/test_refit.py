"""The full-batch heads: scikit-learn where no penalty acts, torch's L-BFGS elsewhere."""

import copy

import numpy as np
import pytest
import torch
from torch.nn import functional as F


def _ce(outputs, target):
    return F.cross_entropy(outputs, target, reduction="none")


def _squared(outputs, target):
    return ((outputs - target) ** 2).mean(dim=1)


@pytest.mark.parametrize("shape", [(300, 20), (40, 100)])
def test_ridge_head_is_scikit_learns_ridge_with_domain_weights(shape):
    # More rows than columns and fewer: the domain-weighted objective is Ridge with each row
    # weighted by 1 / (n_e * n_domains) and Ridge's alpha = n_outputs * alpha / 2, and every
    # weight of a path is that Ridge.
    from sklearn.linear_model import Ridge

    from sklearn_seqinv.nn import OutputMean
    from sklearn_seqinv.selection._refit import _LinearFit, fit_head

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
    from sklearn_seqinv.selection._refit import _linear_kind, _objective, fit_head

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
    objective = (domain, 3, loss_fn, alpha, None, 0.0)
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
    from sklearn_seqinv.nn import OutputMean
    from sklearn_seqinv.selection import _refit as refit

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


def test_penalized_head_with_one_domain_is_the_ridge_and_improves_on_it_otherwise():
    from sklearn.linear_model import Ridge

    from sklearn_seqinv.selection._refit import _load_linear, _objective, fit_head

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
    args = (X, y, three, 3, squared, 0.1, "vrex", 10.0)
    with torch.no_grad():
        assert _objective(head, *args) < _objective(start, *args) - 1e-3


def test_alpha_path_stops_past_its_minimum(monkeypatch):
    from sklearn_seqinv.selection import _refit as refit

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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hidden_layer_alpha_path_escapes_the_collapsed_network(seed):
    # A strong L2 weight shrinks a ReLU head to all-zero weights, where every gradient is
    # zero; a path warm-started from there stays a constant predictor at every weaker weight.
    from sklearn_seqinv.nn import make_head
    from sklearn_seqinv.selection._refit import fit_head, select_alpha

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


def test_one_blas_thread_is_set_from_the_main_thread_only_and_restored():
    # The BLAS limit is process-wide: the main thread sets it for a fit and restores it; a
    # fit in a user's own thread leaves it as it finds it (no thread changes it under another).
    import threading

    from threadpoolctl import threadpool_info

    from sklearn_seqinv.selection import _refit

    with _refit._one_blas_thread():  # the libraries the limit covers (numpy's and scipy's)
        controller = _refit._BLAS["controller"]
        known = {lib["filepath"] for lib in controller.info() if lib["user_api"] == "blas"}

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["filepath"] in known]

    before = blas_threads()
    with _refit._one_blas_thread():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before
    seen = []

    def in_a_thread():
        with _refit._one_blas_thread():
            seen.append(blas_threads())

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(timeout=30)
    assert seen == [before] and blas_threads() == before
