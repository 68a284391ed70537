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

from .losses import INVARIANCE_PENALTIES, RiskBatch, domain_risks, mean_risk

__all__ = ["ALPHA_PATH", "fit_head", "ridge_path", "select_alpha", "validation_folds"]

#: Candidate L2 weights, from strong to weak (mean-loss units, standardized inputs).
ALPHA_PATH = tuple(float(a) for a in np.logspace(1, -4, 6))

# Above this many rows and columns (both), the eigendecomposition of the closed-form ridge
# costs more than a few L-BFGS runs.
_MAX_SVD_SIZE = 3000


def _domain_weights(domain, n_domains, dtype):
    """Row weights that make a weighted mean equal the mean of the per-domain means."""
    counts = torch.bincount(domain, minlength=n_domains).to(dtype)
    return 1.0 / (counts[domain] * (counts > 0).sum())


def _uses_ridge(head, closed_form, invariance, inputs):
    return (
        closed_form
        and invariance is None
        and isinstance(head, torch.nn.Linear)
        and min(inputs.shape) <= _MAX_SVD_SIZE
    )


def ridge_path(inputs, target, domain, n_domains, alphas):
    """Closed-form ridge solutions of the domain-weighted squared error along ``alphas``.

    Minimizes ``mean_e mean_{i in e} mean_k (y_ik - x_i b_k - c_k)^2 + alpha / 2 ||B||^2``
    (the objective :func:`fit_head` minimizes with a squared-error loss) from one symmetric
    eigendecomposition: of the ``d x d`` weighted Gram matrix when there are more rows than
    columns, else of the ``n x n`` kernel matrix. Either costs a fraction of an SVD of the
    data and serves every ``alpha``.

    Yields
    ------
    alpha, weight, bias : float, Tensor (n_outputs, d), Tensor (n_outputs,)
    """
    X = inputs.double()
    Y = target.double().reshape(len(target), -1)
    w = _domain_weights(domain, n_domains, X.dtype)[:, None]
    mean_x, mean_y = (w * X).sum(0), (w * Y).sum(0)
    root = w.sqrt()
    Xw, Yw = (X - mean_x) * root, (Y - mean_y) * root
    primal = X.shape[0] >= X.shape[1]
    # Gram (or kernel) eigenvalues are the squared singular values of Xw.
    values, vectors = torch.linalg.eigh(Xw.T @ Xw if primal else Xw @ Xw.T)
    values = values.clamp(min=0.0)
    projected = vectors.T @ (Xw.T @ Yw if primal else Yw)
    for alpha in alphas:
        shrink = 1.0 / (values + Y.shape[1] * alpha / 2.0)
        if primal:
            B = vectors @ (shrink[:, None] * projected)
        else:
            B = Xw.T @ (vectors @ (shrink[:, None] * projected))
        yield alpha, B.T, mean_y - mean_x @ B


def _load_linear(head, weight, bias):
    with torch.no_grad():
        head.weight.copy_(weight.to(head.weight.dtype))
        head.bias.copy_(bias.to(head.bias.dtype))


def _l2(head):
    return sum((p**2).sum() for name, p in head.named_parameters() if not name.endswith("bias"))


def _objective(head, inputs, target, domain, n_domains, loss_fn, alpha, invariance, weight):
    outputs = head(inputs)
    losses = loss_fn(outputs, target)
    risks, present = domain_risks(losses, domain, n_domains)
    loss = mean_risk(risks, present)
    if invariance is not None and weight > 0:
        batch = RiskBatch(losses, outputs, target, domain, n_domains, loss_fn, risks, present, loss)
        loss = loss + weight * INVARIANCE_PENALTIES[invariance](batch)
    if alpha > 0:
        loss = loss + 0.5 * alpha * _l2(head)
    return loss


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
    max_iter=200,
):
    """Fit ``head`` in place by full-batch L-BFGS on mean domain risk + penalties.

    With ``closed_form=True`` (the loss is the squared error), a linear head and no
    invariance penalty, the ridge solution is computed directly instead.

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
    invariance : {"vrex", "irm"} or None, default=None
        Invariance penalty over the exact (full-batch) per-domain risks.
    invariance_weight : float, default=0.0
        Its weight.
    closed_form : bool, default=False
        Whether ``loss_fn`` is the squared error, so that a linear head has a closed form.
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
    if _uses_ridge(head, closed_form, invariance, inputs):
        _, weight, bias = next(ridge_path(inputs, target, domain, n_domains, [alpha]))
        _load_linear(head, weight, bias)
        return head
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

    def closure():
        optimizer.zero_grad()
        loss = _objective(
            head, inputs, target, domain, n_domains, loss_fn, alpha, invariance, invariance_weight
        )
        loss.backward()
        return loss

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
    by_domain=False,
    seed=0,
):
    """The L2 weight of ``alphas`` with the lowest validation loss on held-out training rows.

    Each fold fits a copy of ``head`` along the path (strong to weak, warm-started) on its
    training rows and records the mean per-sample loss on its validation rows.

    Parameters
    ----------
    head : nn.Module
        Initial head (not modified).
    inputs, target, domain, n_domains, loss_fn
        As in :func:`fit_head`.
    alphas : sequence of float, default=ALPHA_PATH
        Candidate L2 weights.
    invariance, invariance_weight, closed_form
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
        Mean validation loss of each candidate.
    row_losses : ndarray of shape (n_validation_rows,)
        Per-row validation losses at the chosen weight, fold after fold (the same rows in
        the same order for every call with the same ``domain`` and ``seed``), to compare two
        candidate inputs row by row.
    """
    folds = validation_folds(domain, n_domains, by_domain=by_domain, seed=seed)
    losses = np.zeros(len(alphas))
    per_row = [[] for _ in alphas]
    for train, valid in folds:
        train, valid = train.to(inputs.device), valid.to(inputs.device)
        fold_head = copy.deepcopy(head)
        if _uses_ridge(head, closed_form, invariance, inputs):
            path = ridge_path(inputs[train], target[train], domain[train], n_domains, alphas)
        else:
            path = ((alpha, None, None) for alpha in alphas)
        for k, (alpha, weight, bias) in enumerate(path):
            if weight is not None:
                _load_linear(fold_head, weight, bias)
            else:
                fit_head(
                    fold_head,
                    inputs[train],
                    target[train],
                    domain[train],
                    n_domains,
                    loss_fn,
                    alpha=alpha,
                    invariance=invariance,
                    invariance_weight=invariance_weight,
                    max_iter=100,  # warm-started from the previous weight on the path
                )
            with torch.no_grad():
                rows = loss_fn(fold_head(inputs[valid]), target[valid]).cpu().double().numpy()
            losses[k] += rows.mean()
            per_row[k].append(rows)
    losses /= len(folds)
    best = int(np.argmin(losses))
    return float(alphas[best]), losses, np.concatenate(per_row[best])
