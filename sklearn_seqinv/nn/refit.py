"""Full-batch refitting of a head with L-BFGS and an L2 penalty chosen on held-out domains.

The stochastic-gate phase decides *which* columns to keep; minibatch Adam with gate noise is
a poor way to estimate the final head, which trails a tuned linear model on dense inputs. So
the head is refitted on the kept columns by full-batch L-BFGS (a convex problem for a linear
head) with an L2 weight ``alpha`` in mean-loss units: ``alpha = 1 / (C * n)`` for scikit-learn's
``LogisticRegression(C=...)``. ``select_alpha`` picks ``alpha`` on a path, strong to weak, by
the validation loss on held-out training domains (leave-one-domain-out), never on a target.
"""

import copy

import numpy as np
import torch

from .losses import domain_risks, irm_penalty, mean_risk, vrex_penalty

__all__ = ["ALPHA_PATH", "fit_head", "select_alpha", "validation_folds"]

#: Candidate L2 weights, from strong to weak (mean-loss units, standardized inputs).
ALPHA_PATH = tuple(float(a) for a in np.logspace(0, -5, 11))


def _l2(head):
    return sum((p**2).sum() for name, p in head.named_parameters() if not name.endswith("bias"))


def _objective(head, inputs, target, domain, n_domains, loss_fn, alpha, invariance, weight):
    outputs = head(inputs)
    risks, present = domain_risks(loss_fn(outputs, target), domain, n_domains)
    loss = mean_risk(risks, present)
    if invariance == "vrex" and weight > 0:
        loss = loss + weight * vrex_penalty(risks, present, mean=loss)
    elif invariance == "irm" and weight > 0:
        loss = loss + weight * irm_penalty(outputs, target, domain, n_domains, loss_fn)
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
    max_iter=200,
):
    """Fit ``head`` in place by full-batch L-BFGS on mean domain risk + penalties.

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


def validation_folds(domain, n_domains, *, max_folds=5, seed=0):
    """Train/validation row masks from the training data alone.

    With several domains, whole domains are held out (leave-one-domain-out, merged into at
    most ``max_folds`` folds), which favours what holds across domains; with one domain, a
    random fifth of the rows.

    Parameters
    ----------
    domain : LongTensor of shape (n,)
        Domain code of each row.
    n_domains : int
        Number of domain codes.
    max_folds : int, default=5
        Most folds to use.
    seed : int, default=0
        Seed of the single-domain holdout and of the merging of domains into folds.

    Returns
    -------
    folds : list of (BoolTensor, BoolTensor)
        ``(train, validation)`` masks.

    Examples
    --------
    >>> import torch
    >>> folds = validation_folds(torch.tensor([0, 0, 1, 1]), 2)
    >>> [v.tolist() for _, v in folds]
    [[True, True, False, False], [False, False, True, True]]
    """
    generator = torch.Generator().manual_seed(int(seed))
    domain = domain.cpu()
    if n_domains >= 2:
        order = torch.randperm(n_domains, generator=generator) if n_domains > max_folds else None
        fold_of = torch.arange(n_domains) if order is None else order % max_folds
        codes = fold_of[domain]
        return [(codes != f, codes == f) for f in range(int(fold_of.max()) + 1)]
    n = domain.shape[0]
    valid = torch.zeros(n, dtype=torch.bool)
    valid[torch.randperm(n, generator=generator)[: max(1, n // 5)]] = True
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
    seed=0,
):
    """The L2 weight of ``alphas`` with the lowest mean validation loss on held-out domains.

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
    invariance, invariance_weight
        As in :func:`fit_head`, used in every fit.
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
    folds = validation_folds(domain, n_domains, seed=seed)
    losses = np.zeros(len(alphas))
    per_row = [[] for _ in alphas]
    for train, valid in folds:
        train, valid = train.to(inputs.device), valid.to(inputs.device)
        fold_head = copy.deepcopy(head)
        for k, alpha in enumerate(alphas):
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
            )
            with torch.no_grad():
                rows = loss_fn(fold_head(inputs[valid]), target[valid]).cpu().double().numpy()
            losses[k] += rows.mean()
            per_row[k].append(rows)
    losses /= len(folds)
    best = int(np.argmin(losses))
    return float(alphas[best]), losses, np.concatenate(per_row[best])
