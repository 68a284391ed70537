"""Penalties as plain functions on tensors (pure torch, no estimator state).

``domain`` arguments are integer codes ``0..n_domains-1``, one per sample of the batch.
Domains with no sample in the batch are ignored, and every invariance penalty is zero when
fewer than two domains are present, so single-source training still works.
"""

from collections.abc import Callable
from typing import NamedTuple

import torch

from .._docstring import fill_doc

__all__ = [
    "FEATURE_PENALTIES",
    "INVARIANCE_PENALTIES",
    "OutputMean",
    "RiskBatch",
    "balanced_risks",
    "coral_penalty",
    "domain_risks",
    "irm_penalty",
    "loss_kind",
    "mean_risk",
    "member_irm_penalty",
    "member_risks",
    "member_vrex_penalty",
    "redundancy_penalty",
    "risk_sampling_variance",
    "sparsity_penalty",
    "vrex_penalty",
]


def domain_risks(losses, domain, n_domains):
    """Mean loss of every domain, and which domains have samples in the batch.

    Computed without boolean indexing so a training step never waits on a data-dependent
    shape; absent domains get a risk of 0 and ``present = False``.

    Parameters
    ----------
    losses : Tensor of shape (n,)
        Per-sample task losses.
    domain : LongTensor of shape (n,)
        Domain code of each sample.
    n_domains : int
        Number of domain codes.

    Returns
    -------
    risks : Tensor of shape (n_domains,)
        Mean loss per domain (0 where absent).
    present : BoolTensor of shape (n_domains,)
        Whether the domain has at least one sample.

    Examples
    --------
    >>> import torch
    >>> risks, present = domain_risks(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([0, 0, 2]), 3)
    >>> risks, present
    (tensor([2., 0., 5.]), tensor([ True, False,  True]))
    """
    totals = torch.zeros(n_domains, dtype=losses.dtype, device=losses.device)
    totals = totals.index_add(0, domain, losses)
    counts = torch.bincount(domain, minlength=n_domains)
    return totals / counts.clamp(min=1).to(losses.dtype), counts > 0


def mean_risk(risks, present):
    """Mean of the risks of the present domains (the ``mean_e R_e`` of the stage loss).

    Examples
    --------
    >>> import torch
    >>> mean_risk(torch.tensor([2.0, 0.0, 5.0]), torch.tensor([True, False, True]))
    tensor(3.5000)
    """
    weights = present.to(risks.dtype)
    return (risks * weights).sum() / weights.sum()


def risk_sampling_variance(losses, domain, n_domains, risks=None):
    """Sampling variance of each domain's mean risk in the batch: ``s_e^2 / n_e``.

    ``s_e^2`` is the unbiased variance of the per-sample losses of domain ``e``; domains
    with fewer than two samples get 0. ``risks`` may pass the already computed
    :func:`domain_risks` of the same losses.

    Examples
    --------
    >>> import torch
    >>> risk_sampling_variance(torch.tensor([1.0, 3.0, 5.0]), torch.tensor([0, 0, 1]), 2)
    tensor([1., 0.])
    """
    if risks is None:
        risks, _ = domain_risks(losses, domain, n_domains)
    squares = torch.zeros(n_domains, dtype=losses.dtype, device=losses.device)
    squares = squares.index_add(0, domain, (losses - risks[domain]) ** 2)
    counts = torch.bincount(domain, minlength=n_domains).to(losses.dtype)
    within = squares / (counts - 1).clamp(min=1)
    return torch.where(counts > 1, within / counts.clamp(min=1), torch.zeros_like(within))


def balanced_risks(losses, n_domains):
    """Risks and their sampling variances of a balanced batch, from a view of its losses.

    A balanced batch holds the same number of rows of each of ``n_domains`` domains, domain
    after domain: viewed as an ``(n_domains, rows)`` matrix its per-sample losses have one
    domain per row, so the risks are the row means and their sampling variances
    (:func:`risk_sampling_variance`) the row variances over ``rows``; no scatter over domain
    codes is needed.

    Examples
    --------
    >>> import torch
    >>> balanced_risks(torch.tensor([1.0, 3.0, 5.0, 5.0]), 2)
    (tensor([2., 5.]), tensor([1., 0.]))
    """
    by_domain = losses.view(n_domains, -1)
    rows = by_domain.shape[1]
    variance = by_domain.detach().var(dim=1) if rows > 1 else torch.zeros_like(by_domain[:, 0])
    return by_domain.mean(dim=1), variance / rows


def vrex_penalty(risks, present=None, mean=None, sampling_variance=None):
    """V-REx penalty (Krueger et al., 2021): variance of the risks of the present domains.

    Zero when fewer than two domains are present. ``mean`` may pass the already computed
    :func:`mean_risk` of the same risks. Given ``sampling_variance`` (from
    :func:`risk_sampling_variance`), the part of the variance that batch sampling alone
    produces, ``(K - 1) / K^2 * sum_e s_e^2 / n_e`` for ``K`` domains, is subtracted (as a
    constant, with the result floored at 0), so small per-domain batches (many domains) no
    longer reward closing gates merely to make the per-domain risks less noisy.

    Examples
    --------
    >>> import torch
    >>> vrex_penalty(torch.tensor([1.0, 3.0]))
    tensor(1.)
    >>> vrex_penalty(torch.tensor([2.0, 7.0]), torch.tensor([True, False]))
    tensor(0.)
    """
    if present is None:  # every domain present (a balanced batch): no masking
        mean = risks.mean() if mean is None else mean
        penalty, k = (risks - mean).square().mean(), len(risks)
        variance = None if sampling_variance is None else sampling_variance.detach().sum()
    else:
        weights = present.to(risks.dtype)
        mean = mean_risk(risks, present) if mean is None else mean
        k = weights.sum()
        penalty = ((risks - mean) * weights).square().sum() / k
        if sampling_variance is not None:
            variance = (sampling_variance.detach() * weights).sum()
    if sampling_variance is not None:
        # Detached and floored at 0: the correction only decides whether the spread of the
        # risks exceeds what sampling explains; it gives no gradient, so the optimizer cannot
        # lower the penalty by making per-sample losses more spread out.
        penalty = torch.clamp(penalty - (k - 1) / k**2 * variance, min=0.0)
    return penalty


def coral_penalty(features, domain, n_domains):
    """CORAL penalty (Sun and Saenko, 2016, as DomainBed uses it) on a representation.

    The mean over pairs of environments ``(i, j)`` of the squared distance of their feature
    means plus that of their feature covariances, each averaged over its entries:
    ``mean((mu_i - mu_j)**2) + mean((C_i - C_j)**2)``. Pairs are summed in closed form
    (``sum_{i<j} |a_i - a_j|^2 = K sum_i |a_i - mean(a)|^2`` over the ``K`` environments
    present), so the cost grows with ``K``, not ``K**2``. Environments with fewer than two
    rows have no covariance and are left out; the penalty is zero when fewer than two
    environments remain.

    Parameters
    ----------
    features : Tensor of shape (n_samples, n_features)
        The representation whose moments should match (the input of a head's last linear
        layer).
    domain : Tensor of int of shape (n_samples,)
        Environment codes.
    n_domains : int
        Number of environment codes.

    Returns
    -------
    penalty : Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> same = torch.tensor([[0.0], [2.0], [0.0], [2.0]])
    >>> coral_penalty(same, torch.tensor([0, 0, 1, 1]), 2)
    tensor(0.)
    >>> shifted = torch.tensor([[0.0], [2.0], [1.0], [3.0]])
    >>> coral_penalty(shifted, torch.tensor([0, 0, 1, 1]), 2)
    tensor(1.)
    """
    counts = torch.bincount(domain, minlength=n_domains)
    present = torch.nonzero(counts > 1).flatten()
    k = len(present)
    if k < 2:
        return features.new_zeros(())
    means, covariances = [], []
    for code in present.tolist():
        rows = features[domain == code]
        mean = rows.mean(dim=0)
        centred = rows - mean
        means.append(mean)
        covariances.append(centred.T @ centred / (rows.shape[0] - 1))
    spread = 0.0
    for moments in (torch.stack(means), torch.stack(covariances)):
        deviation = moments - moments.mean(dim=0, keepdim=True)
        spread = spread + deviation.square().sum(dim=0).mean()
    # K * sum of squared deviations is the sum over pairs; divide by the K (K - 1) / 2 pairs.
    return 2.0 * spread / (k - 1)


@fill_doc
def irm_penalty(outputs, target, domain, n_domains, loss_fn):
    """IRMv1 penalty (Arjovsky et al., 2019), vectorized over domains.

    Each domain ``e`` gets its own dummy scale ``w_e = 1`` on the outputs; since the risk of
    domain ``e`` depends on ``w_e`` alone, one gradient call gives every ``dR_e / dw_e``. The
    penalty is the mean of their squares over the domains present.

    Parameters
    ----------
    outputs : Tensor of shape (n, n_outputs)
        Logits (classification) or predictions (regression).
    %(risk_args)s

    Examples
    --------
    >>> import torch
    >>> from torch.nn import functional as F
    >>> out = torch.tensor([[2.0, 0.0], [0.0, 1.0]], requires_grad=True)
    >>> pen = irm_penalty(out, torch.tensor([0, 1]), torch.tensor([0, 1]), 2,
    ...                   lambda o, t: F.cross_entropy(o, t, reduction="none"))
    >>> bool(pen > 0)
    True
    """
    counts = torch.bincount(domain, minlength=n_domains)
    if int((counts > 0).sum()) < 2:
        return outputs.sum() * 0.0
    scale = torch.ones(n_domains, dtype=outputs.dtype, device=outputs.device, requires_grad=True)
    with torch.enable_grad():  # the penalty is a gradient: it exists under no_grad too
        scaled = outputs * scale[domain].unsqueeze(1)
        risks, _ = domain_risks(loss_fn(scaled, target), domain, n_domains)
        (grads,) = torch.autograd.grad(risks.sum(), scale, create_graph=True)
    return (grads[counts > 0] ** 2).mean()


def sparsity_penalty(open_probability, weights):
    """Weighted expected number of open gates: ``sum_j weights_j * P(z_j > 0)``.

    The estimator passes ``weights = sparsity * log(n) / (2n)`` (each open gate priced like a
    parameter in BIC, whatever the width); per-feature weights let one gate vector span
    several modalities, each with its own ``sparsity``. Gates stacked by member
    (``(M, n_features)``, :class:`~sklearn_seqinv.nn.GatedMembers`) give one penalty per
    member.

    Examples
    --------
    >>> import torch
    >>> sparsity_penalty(torch.tensor([1.0, 0.0, 0.5]), torch.full((3,), 0.1))
    tensor(0.1500)
    """
    return (open_probability * weights).sum(dim=-1)


def member_risks(losses, domain, n_domains, rows_per_domain=None):
    """Every member's per-domain risks and their sampling variances, from one batch.

    Parameters
    ----------
    losses : Tensor of shape (n_members, n)
        Per-sample losses of every member on the same rows.
    domain : LongTensor of shape (n,)
        Domain code of each row.
    n_domains : int
        Number of domain codes.
    rows_per_domain : int or None, default=None
        Given, the batch is balanced (that many rows of every code, code after code) and
        the risks are row means of a view, as :func:`balanced_risks` takes them.

    Returns
    -------
    risks : Tensor of shape (n_members, n_domains)
    sampling_variance : Tensor of shape (n_members, n_domains)
        ``s_e^2 / n_e`` of each risk (0 with fewer than two rows; detached).
    present : BoolTensor of shape (n_domains,)

    Examples
    --------
    >>> import torch
    >>> losses = torch.tensor([[1.0, 3.0, 5.0, 5.0], [0.0, 0.0, 1.0, 3.0]])
    >>> risks, variance, present = member_risks(losses, torch.tensor([0, 0, 1, 1]), 2)
    >>> risks
    tensor([[2., 5.],
            [0., 2.]])
    >>> torch.equal(risks, member_risks(losses, None, 2, rows_per_domain=2)[0])
    True
    """
    n_members = losses.shape[0]
    if rows_per_domain is not None:
        by_domain = losses.view(n_members, -1, rows_per_domain)
        variance = torch.zeros_like(by_domain[..., 0])
        if rows_per_domain > 1:
            variance = by_domain.detach().var(dim=2) / rows_per_domain
        present = torch.ones(by_domain.shape[1], dtype=torch.bool, device=losses.device)
        return by_domain.mean(dim=2), variance, present
    shape = (n_members, n_domains)
    totals = losses.new_zeros(shape).index_add(1, domain, losses)
    counts = torch.bincount(domain, minlength=n_domains).to(losses.dtype)
    risks = totals / counts.clamp(min=1)
    deviations = (losses.detach() - risks.detach()[:, domain]) ** 2
    squares = losses.new_zeros(shape).index_add(1, domain, deviations)
    within = squares / (counts - 1).clamp(min=1) / counts.clamp(min=1)
    return risks, torch.where(counts > 1, within, torch.zeros_like(within)), counts > 0


def member_vrex_penalty(risks, weights, sampling_variance=None):
    """:func:`vrex_penalty` of every member over the domains ``weights`` (0/1) give it.

    Zero for a member with fewer than two domains.

    Examples
    --------
    >>> import torch
    >>> risks = torch.tensor([[1.0, 3.0], [1.0, 3.0]])
    >>> member_vrex_penalty(risks, torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
    tensor([1., 0.])
    """
    k = weights.sum(dim=1)
    mean = (risks * weights).sum(dim=1) / k.clamp(min=1)
    penalty = ((risks - mean.unsqueeze(1)) * weights).square().sum(dim=1) / k.clamp(min=1)
    if sampling_variance is not None:
        noise = (sampling_variance.detach() * weights).sum(dim=1)
        penalty = torch.clamp(penalty - (k - 1) / k.clamp(min=1) ** 2 * noise, min=0.0)
    return torch.where(k > 1, penalty, torch.zeros_like(penalty))


def member_irm_penalty(outputs, target, domain, n_domains, loss_fn, weights):
    """:func:`irm_penalty` of every member (``outputs`` of shape ``(M, n, n_outputs)``) over
    the domains ``weights`` (0/1, ``(M, n_domains)``) give it: one dummy scale per member and
    domain, so one gradient call gives every ``dR_me / dw_me``. ``loss_fn(outputs, target)``
    returns the members' per-sample losses ``(M, n)``.

    Examples
    --------
    >>> import torch
    >>> outputs = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]).repeat(2, 1, 1)
    >>> ce = torch.nn.CrossEntropyLoss(reduction="none")
    >>> def losses(outputs, target):
    ...     return ce(outputs.transpose(1, 2), target.expand(outputs.shape[:2]))
    >>> weights = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    >>> target, domain = torch.tensor([0, 0]), torch.tensor([0, 1])
    >>> penalty = member_irm_penalty(outputs, target, domain, 2, losses, weights)
    >>> bool(torch.isclose(penalty[0], irm_penalty(outputs[0], target, domain, 2, ce)))
    True
    >>> penalty[1].item()  # one domain: nothing to compare
    0.0
    """
    n_members = outputs.shape[0]
    scale = outputs.new_ones((n_members, n_domains), requires_grad=True)
    with torch.enable_grad():
        scaled = outputs * scale[:, domain].unsqueeze(2)
        risks, _, present = member_risks(loss_fn(scaled, target), domain, n_domains)
        (grads,) = torch.autograd.grad(risks.sum(), scale, create_graph=True)
    weights = weights * present.to(weights.dtype)
    k = weights.sum(dim=1)
    penalty = (grads.square() * weights).sum(dim=1) / k.clamp(min=1)
    return torch.where(k > 1, penalty, torch.zeros_like(penalty))


def redundancy_penalty(gated, guidance, eps=1e-8):
    """Mean squared cross-correlation between gated features and the guidance.

    Parameters
    ----------
    gated : Tensor of shape (n, d)
        Gated features of the modality being fitted.
    guidance : Tensor of shape (n, k)
        Selected features of the earlier modalities.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0], [1.0], [2.0]])
    >>> round(float(redundancy_penalty(x, 2 * x)), 4)
    1.0
    """
    if gated.shape[0] < 2 or gated.shape[1] == 0 or guidance.shape[1] == 0:
        return gated.sum() * 0.0
    a = gated - gated.mean(0, keepdim=True)
    b = guidance - guidance.mean(0, keepdim=True)
    a = a / (a.pow(2).mean(0, keepdim=True).sqrt() + eps)
    b = b / (b.pow(2).mean(0, keepdim=True).sqrt() + eps)
    corr = a.T @ b / gated.shape[0]
    return corr.pow(2).mean()


class OutputMean:
    """Per-sample loss of an unreduced ``criterion``: its mean over the outputs.

    ``OutputMean(torch.nn.MSELoss(reduction="none"))`` is the per-sample mean squared error
    over the outputs of a (multi-output) regression head; the full-batch refit recognizes it
    by its ``criterion``.

    Examples
    --------
    >>> import torch
    >>> OutputMean(torch.nn.MSELoss(reduction="none"))(torch.ones(2, 2), torch.zeros(2, 2))
    tensor([1., 1.])
    """

    def __init__(self, criterion):
        self.criterion = criterion

    def __call__(self, outputs, target):
        return self.criterion(outputs, target).mean(dim=1)


def loss_kind(loss_fn):
    """``"squared_error"`` or ``"cross_entropy"`` when the per-sample loss ``loss_fn`` is the
    one scikit-learn's ``Ridge`` or ``LogisticRegression`` minimizes, else ``None``.

    ``loss_fn`` is an unreduced criterion or an :class:`OutputMean` of one: ``MSELoss``
    (averaged over the outputs) or an unweighted ``CrossEntropyLoss`` without label
    smoothing.

    Examples
    --------
    >>> import torch
    >>> loss_kind(OutputMean(torch.nn.MSELoss(reduction="none")))
    'squared_error'
    >>> loss_kind(torch.nn.L1Loss(reduction="none")) is None
    True
    """
    criterion = loss_fn.criterion if isinstance(loss_fn, OutputMean) else loss_fn
    if getattr(criterion, "reduction", None) != "none":
        return None
    if type(criterion) is torch.nn.MSELoss:
        return "squared_error"
    if (
        type(criterion) is torch.nn.CrossEntropyLoss
        and criterion.weight is None
        and criterion.label_smoothing == 0.0
    ):
        return "cross_entropy"
    return None


class RiskBatch(NamedTuple):
    """What an invariance penalty may need of a batch, computed once by the caller."""

    losses: torch.Tensor  # per-sample task losses
    outputs: torch.Tensor  # head outputs (logits or scores)
    target: torch.Tensor
    domain: torch.Tensor  # integer environment codes
    n_domains: int
    loss_fn: Callable  # per-sample loss of (outputs, target)
    risks: torch.Tensor  # per-environment mean loss (domain_risks)
    present: torch.Tensor | None  # None: every environment present
    mean: torch.Tensor  # mean of the present risks
    noise_corrected: bool = False  # V-REx: subtract the risks' sampling variance
    features: torch.Tensor | None = None  # CORAL: the input of the head's last linear layer


def _vrex(batch):
    noise = None
    if batch.noise_corrected:
        noise = risk_sampling_variance(
            batch.losses, batch.domain, batch.n_domains, risks=batch.risks
        )
    return vrex_penalty(batch.risks, batch.present, mean=batch.mean, sampling_variance=noise)


def _irm(batch):
    return irm_penalty(
        batch.outputs,
        batch.target,
        batch.domain,
        batch.n_domains,
        batch.loss_fn,
    )


def _coral(batch):
    return coral_penalty(batch.features, batch.domain, batch.n_domains)


#: Invariance penalties by name: each maps a :class:`RiskBatch` to a scalar tensor. The skorch
#: net and the full-batch refit look the estimator's ``invariance`` up here.
INVARIANCE_PENALTIES = {"vrex": _vrex, "irm": _irm, "coral": _coral}

#: Penalties on a representation (:attr:`RiskBatch.features`) rather than on the risks.
FEATURE_PENALTIES = frozenset({"coral"})
