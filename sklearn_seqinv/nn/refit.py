"""Full-batch refitting of a head with L-BFGS and an L2 penalty chosen on held-out domains.

The stochastic-gate phase decides *which* columns to keep; minibatch Adam with gate noise is
a poor way to estimate the final head, which trails a tuned linear model on dense inputs. So
the head is refitted on the kept columns by full-batch L-BFGS (a convex problem for a linear
head) with an L2 weight ``alpha`` in mean-loss units: ``alpha = 1 / (C * n)`` for scikit-learn's
``LogisticRegression(C=...)``. ``select_alpha`` picks ``alpha`` on a path, strong to weak, by
the validation loss on held-out rows of the training domains, never on a target.
"""

import copy

import numpy as np
import torch

from .heads import head_features
from .losses import (
    FEATURE_PENALTIES,
    INVARIANCE_PENALTIES,
    RiskBatch,
    domain_risks,
    hand_derivative_kind,
    irm_scale_gradient,
    loss_and_output_gradient,
    mean_risk,
)

__all__ = [
    "ALPHA_PATH",
    "PATH_PATIENCE",
    "fit_head",
    "ridge_path",
    "select_alpha",
    "validation_folds",
]

#: Candidate L2 weights, from strong to weak (mean-loss units, standardized inputs).
ALPHA_PATH = tuple(float(a) for a in np.logspace(1, -4, 6))

#: An L-BFGS path of :func:`select_alpha` stops after this many weights in a row whose mean
#: validation loss is above the best one so far: validation loss along a ridge path falls
#: to one minimum and rises after it, and the weakest weights cost the most iterations.
PATH_PATIENCE = 2

# Above this many rows and columns (both), the Cholesky factorizations of the closed-form
# ridge path cost more than a few L-BFGS runs.
_MAX_SVD_SIZE = 3000


def _domain_weights(domain, n_domains, dtype):
    """Row weights that make a weighted mean equal the mean of the per-domain means."""
    counts = torch.bincount(domain, minlength=n_domains).to(dtype)
    return 1.0 / (counts[domain] * (counts > 0).sum())


def _has_ridge(head, closed_form, inputs):
    """Whether the squared-error ridge of ``head`` on ``inputs`` has a closed form worth using."""
    return closed_form and isinstance(head, torch.nn.Linear) and min(inputs.shape) <= _MAX_SVD_SIZE


def _acting(invariance, head):
    """``invariance``, or None where it is a constant: a feature penalty on a linear head
    reads the head's inputs, which no parameter of the head moves."""
    if invariance in FEATURE_PENALTIES and isinstance(head, torch.nn.Linear):
        return None
    return invariance


def _penalty_acts(invariance, domain, n_domains):
    """Whether an invariance penalty is set and can be non-zero (two domains or more)."""
    return (
        invariance is not None and int((torch.bincount(domain, minlength=n_domains) > 0).sum()) > 1
    )


def ridge_path(inputs, target, domain, n_domains, alphas):
    """Closed-form ridge solutions of the domain-weighted squared error along ``alphas``.

    Minimizes ``mean_e mean_{i in e} mean_k (y_ik - x_i b_k - c_k)^2 + alpha / 2 ||B||^2``
    (the objective :func:`fit_head` minimizes with a squared-error loss) by one Cholesky
    solve per ``alpha``: of the ``d x d`` weighted Gram matrix plus the ridge when there are
    more rows than columns, else of the ``n x n`` kernel matrix plus the ridge. The Gram (or
    kernel) matrix is formed once for the whole path; a Cholesky factorization costs a
    fraction of an eigendecomposition, so a path of a few alphas (or one) is cheaper this way.

    Yields
    ------
    alpha, weight, bias : float, Tensor (n_outputs, d), Tensor (n_outputs,)

    Examples
    --------
    >>> import torch
    >>> X = torch.randn(50, 3)
    >>> y = X @ torch.tensor([1.0, -2.0, 0.0]) + 0.5
    >>> _, weight, bias = next(ridge_path(X, y, torch.zeros(50, dtype=torch.long), 1, [1e-8]))
    >>> torch.allclose(weight.float(), torch.tensor([[1.0, -2.0, 0.0]]), atol=1e-4)
    True
    """
    X = inputs.double()
    Y = target.double().reshape(len(target), -1)
    w = _domain_weights(domain, n_domains, X.dtype)
    mean_x, mean_y = w @ X, w @ Y
    root = w.sqrt()[:, None]
    Xw, Yw = (X - mean_x).mul_(root), (Y - mean_y).mul_(root)
    primal = X.shape[0] >= X.shape[1]
    gram = _upper_gram(Xw.T if primal else Xw)
    rhs = Xw.T @ Yw if primal else Yw
    diagonal = gram.diagonal()
    data_diagonal = diagonal.clone()
    for alpha in alphas:
        diagonal.copy_(data_diagonal + Y.shape[1] * alpha / 2.0)
        factor, info = torch.linalg.cholesky_ex(gram, upper=True)
        if int(info) == 0:
            solution = torch.cholesky_solve(rhs, factor, upper=True)
        else:  # not numerically positive definite (a ridge far below the data's scale)
            full = gram.triu() + gram.triu(1).T
            solution = torch.linalg.lstsq(full, rhs).solution
        B = solution if primal else Xw.T @ solution
        yield alpha, B.T, mean_y - mean_x @ B


def _upper_gram(A):
    """``A @ A.T`` of a float64 matrix; only its upper triangle is meant to be read.

    On the CPU, BLAS's symmetric rank-k update computes just that triangle: half the work
    of a general matrix product.
    """
    if A.device.type != "cpu":
        return A @ A.T
    from scipy.linalg import blas

    return torch.from_numpy(blas.dsyrk(1.0, A.numpy()))


def _load_linear(head, weight, bias):
    with torch.no_grad():
        head.weight.copy_(weight.to(head.weight.dtype))
        head.bias.copy_(bias.to(head.bias.dtype))


def _l2(head):
    return sum((p**2).sum() for name, p in head.named_parameters() if not name.endswith("bias"))


def _objective(
    head, inputs, target, domain, n_domains, loss_fn, alpha, invariance, weight, scale_gradient
):
    features = None
    if invariance in FEATURE_PENALTIES and weight > 0:
        outputs, features = head_features(head, inputs)
    else:
        outputs = head(inputs)
    losses = loss_fn(outputs, target)
    risks, present = domain_risks(losses, domain, n_domains)
    loss = mean_risk(risks, present)
    if invariance is not None and weight > 0:
        batch = RiskBatch(
            losses,
            outputs,
            target,
            domain,
            n_domains,
            loss_fn,
            risks,
            present,
            loss,
            scale_gradient=scale_gradient,
            features=features,
        )
        loss = loss + weight * INVARIANCE_PENALTIES[invariance](batch)
    if alpha > 0:
        loss = loss + 0.5 * alpha * _l2(head)
    return loss


def _direct_objective(
    head, inputs, target, domain, n_domains, loss_fn, alpha, invariance, weight, scale_gradient
):
    """:func:`_objective` with its gradient written by hand, where that is short, else None.

    For a linear head under the plain cross-entropy (no invariance penalty acting) or the
    squared error (:class:`~sklearn_seqinv.nn.losses.OutputMean` of ``MSELoss``; with V-REx,
    IRMv1 or no penalty), the gradient of the objective with respect to the outputs has a
    closed form ``G`` (per-row weights from the domain risks times the loss's derivative),
    and the head's gradient is ``G^T X + alpha W`` (``G`` summed over rows for the bias):
    one matrix product each way and no autograd graph, which is most of an evaluation's cost
    on narrow inputs. The returned closure writes the gradients and returns the loss, as
    L-BFGS expects; loss and gradients equal :func:`_objective`'s through autograd to float
    rounding (tested).
    """
    if type(head) is not torch.nn.Linear or head.bias is None:
        return None
    penalty = invariance if invariance is not None and weight > 0 else None
    kind = hand_derivative_kind(loss_fn)
    if kind == "cross_entropy":
        if target.dim() != 1 or penalty is not None:
            return None
    elif kind != "squared_error" or penalty not in (None, "vrex", "irm"):
        return None
    dtype, device = inputs.dtype, inputs.device
    counts = torch.bincount(domain, minlength=n_domains).to(dtype)
    present = (counts > 0).to(dtype)
    n_present = present.sum()
    per_row = 1.0 / counts[domain]  # each domain's rows average to its risk
    mean_weights = per_row / n_present  # and the risks to their mean
    if kind == "squared_error":
        target = target.to(dtype).reshape(len(target), -1)
    W, b = head.weight, head.bias

    irm_slope = irm_scale_gradient("squared_error")

    def by_domain(values):
        return torch.zeros(n_domains, dtype=dtype, device=device).index_add_(0, domain, values)

    def closure():
        with torch.no_grad():
            outputs = torch.addmm(b, inputs, W.t())
            losses, d_outputs = loss_and_output_gradient(outputs, target, kind)
            if penalty is None:
                # The mean of the domain risks is a weighted sum over rows.
                loss = losses @ mean_weights
                grad = d_outputs.mul_(mean_weights.unsqueeze(1))
            else:
                risks = by_domain(losses) / counts.clamp(min=1.0)
                mean = (risks * present).sum() / n_present
                loss = mean
                d_risks = present / n_present  # d loss / d risk_e
                if penalty == "vrex":
                    centred = (risks - mean) * present
                    loss = loss + weight * centred.square().sum() / n_present
                    d_risks = d_risks + (2.0 * weight / n_present) * centred
                grad = d_outputs.mul_((d_risks[domain] * per_row).unsqueeze(1))
            if penalty == "irm" and n_present >= 2:
                # IRMv1 of the squared error: g_e = mean_{i in e} 2 mean_k r_ik f_ik, whose
                # derivative in f_ik is 2 (2 f_ik - y_ik) / n_outputs.
                slopes = by_domain(irm_slope(outputs, target)) / counts.clamp(min=1.0)
                slopes = slopes * present
                loss = loss + weight * slopes.square().sum() / n_present
                d_slopes = (2.0 * weight / n_present) * slopes
                scale = (d_slopes[domain] * per_row * (2.0 / outputs.shape[1])).unsqueeze(1)
                grad.add_((2.0 * outputs - target).mul_(scale))
            W.grad = grad.t().mm(inputs)
            b.grad = grad.sum(dim=0)
            if alpha > 0:
                loss = loss + 0.5 * alpha * W.square().sum()
                W.grad.add_(W, alpha=alpha)
        return loss

    return closure


def fit_head(
    head,
    inputs,
    target,
    domain,
    n_domains,
    loss_fn,
    *,
    alpha=1e-2,
    invariance=None,
    invariance_weight=0.0,
    closed_form=False,
    scale_gradient=None,
    max_iter=200,
):
    """Fit ``head`` in place by full-batch L-BFGS on mean domain risk + penalties.

    With ``closed_form=True`` (the loss is the squared error) and a linear head, the ridge
    solution is computed directly instead when there is no invariance penalty (or one
    domain, where every penalty is zero); with a penalty, L-BFGS starts from it.

    Parameters
    ----------
    head : nn.Module
        The head to fit; its current parameters are the starting point (warm start).
    inputs : Tensor of shape (n, d)
        Head inputs.
    target : Tensor
        Targets accepted by ``loss_fn``.
    domain : LongTensor of shape (n,)
        Domain code of each row.
    n_domains : int
        Number of domain codes.
    loss_fn : callable
        ``loss_fn(outputs, target)`` returning per-sample losses.
    alpha : float, default=1e-2
        L2 weight on the head's weights (not its biases), ``0.5 * alpha * ||W||^2``.
    invariance : {"vrex", "irm", "coral"} or None, default=None
        Invariance penalty over the exact (full-batch) per-domain risks.
    invariance_weight : float, default=0.0
        Its weight.
    closed_form : bool, default=False
        Whether ``loss_fn`` is the squared error, so that a linear head has a closed form.
    scale_gradient : callable or None, default=None
        Closed-form IRMv1 gradient of ``loss_fn`` (:func:`~sklearn_seqinv.nn.losses.
        irm_scale_gradient`), used by the ``"irm"`` penalty instead of second-order autograd.
    max_iter : int, default=200
        Maximum L-BFGS iterations.

    Returns
    -------
    head : nn.Module
        The fitted head.

    Examples
    --------
    >>> import torch
    >>> from torch.nn import functional as F
    >>> X = torch.randn(200, 3)
    >>> y = (X[:, 0] > 0).long()
    >>> head = fit_head(torch.nn.Linear(3, 2), X, y, torch.zeros(200, dtype=torch.long), 1,
    ...                 lambda o, t: F.cross_entropy(o, t, reduction="none"))
    >>> bool((head(X).argmax(1) == y).float().mean() > 0.9)
    True
    """
    invariance = _acting(invariance, head)
    if _has_ridge(head, closed_form, inputs):
        # The ridge optimum is the fit when no penalty acts; otherwise L-BFGS starts there
        # and the penalty moves the head only as far as it must, in far fewer iterations.
        _, weight, bias = next(ridge_path(inputs, target, domain, n_domains, [alpha]))
        _load_linear(head, weight, bias)
        if not _penalty_acts(invariance, domain, n_domains):
            return head
    objective = (domain, n_domains, loss_fn, alpha, invariance, invariance_weight, scale_gradient)
    return _lbfgs(head, inputs, target, objective, max_iter)


def _lbfgs(head, inputs, target, objective, max_iter):
    """Fit ``head`` in place by full-batch L-BFGS from its current parameters."""
    params = [p for p in head.parameters() if p.requires_grad]
    optimizer = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-6,
        tolerance_change=1e-10,
        line_search_fn="strong_wolfe",
    )

    def autograd():
        optimizer.zero_grad()
        loss = _objective(head, inputs, target, *objective)
        loss.backward()
        return loss

    closure = _direct_objective(head, inputs, target, *objective) or autograd

    with torch.enable_grad():
        optimizer.step(closure)
    return head


def validation_folds(domain, n_domains, *, test_size=0.2, by_domain=False, seed=0):
    """Train/validation row masks from the training data alone.

    DomainBed's training-domain validation: a random ``test_size`` of the rows of every
    domain is held out (at least one row of each domain with two or more). With
    ``by_domain`` and several domains, whole domains are held out instead, one fold each
    (leave-one-domain-out inside the training domains), which judges what holds across
    domains.

    Parameters
    ----------
    domain : LongTensor of shape (n,)
        Domain code of each row.
    n_domains : int
        Number of domain codes.
    test_size : float, default=0.2
        Fraction of each domain held out.
    by_domain : bool, default=False
        Hold out whole domains.
    seed : int, default=0
        Seed of the holdout.

    Returns
    -------
    folds : list of (BoolTensor, BoolTensor)
        ``(train, validation)`` pairs of masks.

    Examples
    --------
    >>> import torch
    >>> (train, valid), = validation_folds(torch.tensor([0] * 5 + [1] * 5), 2)
    >>> valid.sum().item(), (train & valid).any().item()
    (2, False)
    """
    generator = torch.Generator().manual_seed(int(seed))
    domain = domain.cpu()
    if by_domain and n_domains >= 2:
        return [(domain != code, domain == code) for code in range(n_domains)]
    valid = torch.zeros(domain.shape[0], dtype=torch.bool)
    for code in range(n_domains):
        rows = torch.nonzero(domain == code).flatten()
        if len(rows) < 2:
            continue
        n_valid = min(max(1, round(test_size * len(rows))), len(rows) - 1)
        valid[rows[torch.randperm(len(rows), generator=generator)[:n_valid]]] = True
    return [(~valid, valid)]


def _validation_rows(head, inputs, target, loss_fn, valid):
    with torch.no_grad():
        return loss_fn(head(inputs[valid]), target[valid]).cpu().double().numpy()


def _ridge_path_losses(head, inputs, target, domain, n_domains, loss_fn, alphas, penalty, folds):
    """Validation losses along ``alphas`` with a closed-form ridge for each fold: the fit
    itself, or (a penalty acting) where L-BFGS starts. Fold after fold: one fold's Gram
    matrix at a time."""
    losses = np.zeros(len(alphas))
    per_row = [[] for _ in alphas]
    for train, valid in folds:
        fold_head = copy.deepcopy(head)
        domain_in = domain[train]
        path = ridge_path(inputs[train], target[train], domain_in, n_domains, alphas)
        closed = not _penalty_acts(penalty[0], domain_in, n_domains)
        for k, (alpha, weight, bias) in enumerate(path):
            _load_linear(fold_head, weight, bias)
            if not closed:
                # The training rows are copied per fit, not kept: at most one copy at a time.
                objective = (domain_in, n_domains, loss_fn, alpha, *penalty)
                _lbfgs(fold_head, inputs[train], target[train], objective, max_iter=100)
            rows = _validation_rows(fold_head, inputs, target, loss_fn, valid)
            losses[k] += rows.mean()
            per_row[k].append(rows)
    return losses / len(folds), per_row


def _lbfgs_path_losses(head, inputs, target, domain, n_domains, loss_fn, alphas, penalty, folds):
    """Validation losses along ``alphas`` (strong to weak) by L-BFGS, each fold of a linear
    head warm-started from its fit at the previous weight; the path stops once the mean
    validation loss has risen :data:`PATH_PATIENCE` times in a row past its best, and the
    weights not reached get an infinite loss (they are never chosen).

    A hidden-layer head starts every weight from ``head`` instead: a strong L2 weight
    shrinks a ReLU network to all-zero weights, a saddle point where every gradient is zero,
    and a warm start at a weaker weight would stay there (a constant predictor).
    """
    losses = np.full(len(alphas), np.inf)
    per_row = [[] for _ in alphas]
    warm = isinstance(head, torch.nn.Linear)
    fold_heads = [copy.deepcopy(head) for _ in folds]
    fold_domains = [domain[train] for train, _ in folds]
    for k, alpha in enumerate(alphas):
        if not warm:
            fold_heads = [copy.deepcopy(head) for _ in folds]
        total = 0.0
        for fold_head, domain_in, (train, valid) in zip(fold_heads, fold_domains, folds):
            # The training rows are copied per fit, not kept: at most one copy at a time.
            objective = (domain_in, n_domains, loss_fn, alpha, *penalty)
            _lbfgs(fold_head, inputs[train], target[train], objective, max_iter=100)
            rows = _validation_rows(fold_head, inputs, target, loss_fn, valid)
            total += rows.mean()
            per_row[k].append(rows)
        losses[k] = total / len(folds)
        if k - int(np.argmin(losses[: k + 1])) >= PATH_PATIENCE:
            break
    return losses, per_row


def select_alpha(
    head,
    inputs,
    target,
    domain,
    n_domains,
    loss_fn,
    *,
    alphas=ALPHA_PATH,
    invariance=None,
    invariance_weight=0.0,
    closed_form=False,
    scale_gradient=None,
    by_domain=False,
    seed=0,
):
    """The L2 weight of ``alphas`` with the lowest validation loss on held-out training rows.

    Each fold fits a copy of ``head`` along the path (strong to weak, warm-started) on its
    training rows and records the mean per-sample loss on its validation rows. With a
    closed-form ridge every weight is scored; an L-BFGS path stops once the mean validation
    loss has been above its best for :data:`PATH_PATIENCE` weights in a row (the weights not
    reached are never chosen).

    Parameters
    ----------
    head : nn.Module
        Initial head (not modified).
    inputs, target, domain, n_domains, loss_fn
        As in :func:`fit_head`.
    alphas : sequence of float, default=ALPHA_PATH
        Candidate L2 weights.
    invariance, invariance_weight, closed_form, scale_gradient
        As in :func:`fit_head`, used in every fit.
    by_domain : bool, default=False
        Validate on whole held-out domains (see :func:`validation_folds`).
    seed : int, default=0
        Seed of :func:`validation_folds`.

    Returns
    -------
    alpha : float
        The chosen weight.
    losses : ndarray of shape (len(alphas),)
        Mean validation loss of each candidate (``inf`` where an L-BFGS path stopped
        before it).
    row_losses : ndarray of shape (n_validation_rows,)
        Per-row validation losses at the chosen weight, fold after fold (the same rows in
        the same order for every call with the same ``domain`` and ``seed``), to compare two
        candidate inputs row by row.
    """
    folds = [
        (train.to(inputs.device), valid.to(inputs.device))
        for train, valid in validation_folds(domain, n_domains, by_domain=by_domain, seed=seed)
    ]
    penalty = (_acting(invariance, head), invariance_weight, scale_gradient)
    if _has_ridge(head, closed_form, inputs):
        losses, per_row = _ridge_path_losses(
            head, inputs, target, domain, n_domains, loss_fn, alphas, penalty, folds
        )
    else:
        losses, per_row = _lbfgs_path_losses(
            head, inputs, target, domain, n_domains, loss_fn, alphas, penalty, folds
        )
    best = int(np.argmin(losses))
    return float(alphas[best]), losses, np.concatenate(per_row[best])
