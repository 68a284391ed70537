"""Full-batch fitting of a head, with an L2 weight chosen on held-out training rows or domains.

The stochastic-gate phase decides *which* columns to keep; minibatch Adam with gate noise is
a poor way to estimate the final head, which trails a tuned linear model on dense inputs. So
the head is refitted on the kept columns, full batch, minimizing the mean of the per-domain
risks plus ``alpha / 2`` times the squared L2 norm of its weights (not its biases).
``select_alpha`` picks ``alpha`` on a path, strong to weak, by the validation loss on held-out
rows (or whole held-out domains) of the training data, never on a target.

Where no invariance penalty acts, a linear head under the cross-entropy or the squared error is
a domain-weighted logistic regression or ridge, and scikit-learn fits it:
``LogisticRegression`` (lbfgs, warm-started along the path) or ``Ridge`` (the whole path in one
factorization: one target per weight), with a ``sample_weight`` that makes every domain count
once. The weights convert as ``C = 2 / alpha`` (two classes, one logit difference),
``C = 1 / alpha`` (several classes) and ``Ridge(alpha=n_outputs * alpha / 2)``. Where a penalty
acts, the head has a hidden layer, or the loss is another one, torch's L-BFGS minimizes the same
objective through autograd.
"""

import contextlib
import copy
import threading
import warnings

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import ThreadpoolController

from .._docstring import fill_doc
from ..model_selection import TrainingDomainHoldout
from ..nn.heads import head_features
from ..nn.losses import (
    FEATURE_PENALTIES,
    INVARIANCE_PENALTIES,
    RiskBatch,
    domain_risks,
    loss_kind,
    mean_risk,
)
from ._decision import held_out_domain_folds

__all__ = [
    "ALPHA_PATH",
    "PATH_PATIENCE",
    "fit_head",
    "fits_by_scikit_learn",
    "select_alpha",
    "validation_folds",
]

#: Candidate L2 weights, from strong to weak (mean-loss units, standardized inputs).
ALPHA_PATH = tuple(float(a) for a in np.logspace(1, -4, 6))

#: A path of :func:`select_alpha` fitted weight after weight stops after this many weights in
#: a row whose mean validation loss is above the best one so far: validation loss along a
#: ridge path falls to one minimum and rises after it, and the weakest weights cost the most
#: iterations.
PATH_PATIENCE = 2

#: Iterations of scikit-learn's lbfgs per weight (its tolerance ends most far sooner).
_MAX_ITER = 200

#: lbfgs stops once no gradient entry of the mean-loss objective exceeds this. scikit-learn's
#: default (1e-4) stops short of the optimum on nearly separable data, where the validation
#: losses of neighbouring weights differ in the fourth decimal: on the CMU-MOSI features it
#: chose another weight, and a head 0.6 points less accurate, than the converged fit.
_TOL = 1e-5

#: Inputs of at least this many entries fit the folds of a path in parallel threads.
_PARALLEL_SIZE = 1_000_000

_BLAS = {"controller": None}


@contextlib.contextmanager
def _one_blas_thread():
    """A context in which BLAS runs on one thread, in the main thread of a process.

    The products of a full-batch linear fit are matrix-vector products, which a second BLAS
    thread slows down rather than speeds up (twice as slow on 2 cores); the folds of a path
    run side by side in threads instead. The limit is process-wide, so it is set only from
    the main thread (a worker process's too): fits that a user runs in threads of their own
    leave BLAS as they find it rather than change it under each other. It covers the BLAS
    libraries loaded at the first call (numpy's and scipy's, which scikit-learn's linear
    models use).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _BLAS["controller"] is None:
        _BLAS["controller"] = ThreadpoolController()
    limiter = _BLAS["controller"].limit(limits=1, user_api="blas")
    try:
        yield
    finally:
        limiter.restore_original_limits()


def _domain_weights(domain):
    """Row weights (summing to 1) whose weighted mean is the mean of the per-domain means."""
    return compute_sample_weight("balanced", domain) / len(domain)


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


def _linear_kind(head, loss_fn, target):
    """``"logistic"`` or ``"ridge"`` when scikit-learn can fit ``head`` on ``target``.

    That is a linear head with a bias under the plain cross-entropy (every class present in
    ``target``) or the squared error; ``None`` otherwise.
    """
    if type(head) is not torch.nn.Linear or head.bias is None:
        return None
    kind = loss_kind(loss_fn)
    if kind == "squared_error":
        return "ridge"
    if kind == "cross_entropy" and target.dim() == 1:
        present = torch.bincount(target, minlength=head.out_features) > 0
        return "logistic" if bool(present.all()) and head.out_features >= 2 else None
    return None


def fits_by_scikit_learn(head, loss_fn, target):
    """Whether :func:`fit_head` without a penalty fits ``head`` by scikit-learn:
    deterministically, from any starting point (a linear head under the plain cross-entropy
    with every class in ``target``, or the squared error).

    Examples
    --------
    >>> import torch
    >>> fits_by_scikit_learn(torch.nn.Linear(3, 2), torch.nn.CrossEntropyLoss(reduction="none"),
    ...                      torch.tensor([0, 1, 1]))
    True
    """
    return _linear_kind(head, loss_fn, target) is not None


class _LinearFit:
    """scikit-learn's fit of a linear head on fixed rows, weight after weight.

    One ``LogisticRegression`` is warm-started from the previous weight's solution; a
    ``Ridge`` path is solved in one call, one copy of the targets per weight.
    """

    def __init__(self, kind, inputs, target, domain, n_domains, n_outputs, start=None):
        self.kind = kind
        self.n_outputs = n_outputs
        dtype = np.float32 if kind == "logistic" else np.float64
        self.X = inputs.detach().cpu().numpy().astype(dtype, copy=False)
        self.y = target.detach().cpu().numpy()
        self.weights = _domain_weights(domain.cpu().numpy())
        if kind == "logistic":
            self.model = LogisticRegression(warm_start=True, max_iter=_MAX_ITER, tol=_TOL)
            if start is not None:
                self._start_from(*start)

    def _start_from(self, weight, bias):
        """Start the first fit from a torch head's ``weight`` and ``bias`` (the solution of
        a strictly convex problem does not depend on it; the iterations to it do)."""
        weight, bias = (t.detach().cpu().double().numpy() for t in (weight, bias))
        if self.n_outputs == 2:
            weight, bias = weight[1:] - weight[:1], bias[1:] - bias[:1]
        self.model.coef_, self.model.intercept_ = weight, bias

    def at(self, alpha):
        """``(weight, bias)`` arrays of the torch head at L2 weight ``alpha``."""
        if self.kind == "ridge":
            return self.path([alpha])[0]
        share = 2.0 if self.n_outputs == 2 else 1.0  # one logit difference carries both
        self.model.set_params(C=share / alpha if alpha > 0 else np.inf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(self.X, self.y, sample_weight=self.weights)
        coef, intercept = self.model.coef_, self.model.intercept_
        if self.n_outputs == 2:
            return np.vstack([-coef, coef]) / 2.0, np.concatenate([-intercept, intercept]) / 2.0
        return coef, intercept

    def path(self, alphas):
        """``(weight, bias)`` at every weight of ``alphas``, in order."""
        if self.kind == "logistic":
            return (self.at(alpha) for alpha in alphas)
        Y = self.y.reshape(len(self.y), -1)
        k = Y.shape[1]
        ridge = Ridge(alpha=np.repeat([k * a / 2.0 for a in alphas], k), solver="cholesky")
        ridge.fit(self.X, np.tile(Y, len(alphas)), sample_weight=self.weights)
        coef, intercept = (
            ridge.coef_.reshape(len(alphas), k, -1),
            np.reshape(ridge.intercept_, (-1, k)),
        )
        return list(zip(coef, intercept))


def _load_linear(head, weight, bias):
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))
    return head


def _l2(head):
    return sum((p**2).sum() for name, p in head.named_parameters() if not name.endswith("bias"))


def _objective(head, inputs, target, domain, n_domains, loss_fn, alpha, invariance, weight):
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
            features=features,
        )
        loss = loss + weight * INVARIANCE_PENALTIES[invariance](batch)
    if alpha > 0:
        loss = loss + 0.5 * alpha * _l2(head)
    return loss


@fill_doc
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
    warm_start=False,
):
    """Fit ``head`` in place on the mean domain risk, penalties and ``alpha``'s L2 term.

    A linear head under the cross-entropy or the squared error with no penalty acting (none
    set, or one domain, where every penalty is zero) is fitted by scikit-learn (see the
    module's description). Otherwise torch's L-BFGS minimizes the objective from the head's
    current parameters, or, for the squared error of a linear head, from the ridge solution,
    so that the penalty moves the head only as far as it must.

    Parameters
    ----------
    head : nn.Module
        The head to fit; its current parameters are L-BFGS's starting point.
    inputs : Tensor of shape (n, d)
        Head inputs.
    %(risk_args)s
    alpha : float, default=1e-2
        L2 weight on the head's weights (not its biases), ``0.5 * alpha * ||W||^2``.
    invariance : {"vrex", "irm", "coral"} or None, default=None
        Invariance penalty over the exact (full-batch) per-domain risks.
    invariance_weight : float, default=0.0
        Its weight.
    max_iter : int, default=200
        Maximum L-BFGS iterations.
    warm_start : bool, default=False
        Start scikit-learn's ``LogisticRegression`` from the head's current parameters (the
        same solution, in fewer iterations when they are near it).

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
    acts = _penalty_acts(invariance, domain, n_domains)
    kind = _linear_kind(head, loss_fn, target)
    if kind is not None and (not acts or kind == "ridge"):
        with _one_blas_thread():
            start = (head.weight, head.bias) if warm_start else None
            fit = _LinearFit(kind, inputs, target, domain, n_domains, head.out_features, start)
            _load_linear(head, *fit.at(alpha))
        if not acts:
            return head
    objective = (domain, n_domains, loss_fn, alpha, invariance, invariance_weight)
    return _lbfgs(head, inputs, target, objective, max_iter)


def _lbfgs(head, inputs, target, objective, max_iter):
    """Fit ``head`` in place by full-batch L-BFGS (autograd) from its current parameters."""
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
        loss = _objective(head, inputs, target, *objective)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return head


def validation_folds(domain, n_domains, *, test_size=0.2, by_domain=False, seed=0):
    """Train/validation row masks from the training data alone.

    DomainBed's training-domain validation: a random ``test_size`` of the rows of every
    domain with two rows or more is held out
    (:class:`~sklearn_seqinv.model_selection.TrainingDomainHoldout`). With ``by_domain`` and
    several domains, whole domains are held out instead, one fold each
    (:class:`~sklearn_seqinv.model_selection.LeaveOneDomainOut` inside the training
    domains; with more than five, five folds of whole domains, as the decision's
    :func:`~sklearn_seqinv.selection._decision.held_out_domain_folds`), which judges what
    holds across domains.

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
    codes = domain.cpu().numpy()
    everything = np.arange(len(codes))
    if by_domain and n_domains >= 2:
        splits = held_out_domain_folds(codes, len(np.unique(codes)))
    else:
        # A domain of one row stays in training: none of it can be held out.
        eligible = everything[np.bincount(codes, minlength=n_domains)[codes] >= 2]
        test = eligible[:0]
        if len(eligible):
            holdout = TrainingDomainHoldout(test_size, random_state=int(seed))
            test = eligible[next(holdout.split(eligible, sample_domain=codes[eligible]))[1]]
        splits = [(np.setdiff1d(everything, test), test)]
    folds = []
    for train, valid in splits:
        masks = torch.zeros((2, len(codes)), dtype=torch.bool)
        masks[0, torch.from_numpy(train)] = True
        masks[1, torch.from_numpy(valid)] = True
        folds.append((masks[0], masks[1]))
    return folds


def _validation_rows(head, inputs, target, loss_fn, valid):
    with torch.no_grad():
        return loss_fn(head(inputs[valid]), target[valid]).cpu().double().numpy()


class _Fold:
    """One fold of a path: its training rows and the head fitted on them, weight after weight.

    A linear head that scikit-learn can fit on the fold's rows goes through :class:`_LinearFit`
    (warm-started); any other head through torch's L-BFGS, a linear one warm-started from its
    fit at the previous weight, a hidden-layer head from ``head`` at every weight: a strong L2
    weight shrinks a ReLU network to all-zero weights, a saddle point where every gradient is
    zero, and a warm start at a weaker weight would stay there (a constant predictor).
    """

    def __init__(self, head, inputs, target, domain, n_domains, loss_fn, penalty, rows, alphas):
        self.start, self.head = head, copy.deepcopy(head)
        self.alphas, self.ridge_starts = alphas, None
        self.train, self.valid = rows
        self.args = (inputs, target, loss_fn)
        self.domain, self.n_domains, self.penalty = domain[self.train], n_domains, penalty
        target_in = target[self.train]
        acts = _penalty_acts(penalty[0], self.domain, n_domains)
        kind = _linear_kind(head, loss_fn, target_in)
        self.linear = None
        if kind is not None and not acts:
            self.linear = _LinearFit(
                kind, inputs[self.train], target_in, self.domain, n_domains, head.out_features
            )

    def losses(self, alphas):
        """Per-row validation losses of the fits at every weight of ``alphas``, in order."""
        inputs, target, loss_fn = self.args
        if self.linear is not None:
            fitted = (_load_linear(self.head, w, b) for w, b in self.linear.path(alphas))
        else:
            fitted = (self._lbfgs(alpha) for alpha in alphas)
        return [_validation_rows(head, inputs, target, loss_fn, self.valid) for head in fitted]

    def _lbfgs(self, alpha):
        inputs, target, loss_fn = self.args
        if not isinstance(self.start, torch.nn.Linear):
            self.head = copy.deepcopy(self.start)
        elif loss_kind(loss_fn) == "squared_error":
            # Where the ridge has a solution, the penalized fit starts from it: the ridge
            # path of every weight in one factorization, once per fold.
            if self.ridge_starts is None:
                ridge = _LinearFit(
                    "ridge",
                    inputs[self.train],
                    target[self.train],
                    self.domain,
                    self.n_domains,
                    self.head.out_features,
                )
                self.ridge_starts = dict(zip(self.alphas, ridge.path(self.alphas)))
            _load_linear(self.head, *self.ridge_starts[alpha])
        # The training rows are copied per fit, not kept: at most one copy at a time.
        objective = (self.domain, self.n_domains, loss_fn, alpha, *self.penalty)
        return _lbfgs(self.head, inputs[self.train], target[self.train], objective, max_iter=100)


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
    by_domain=False,
    seed=0,
):
    """The L2 weight of ``alphas`` with the lowest validation loss on held-out training rows.

    Each fold fits a copy of ``head`` along the path (strong to weak, warm-started) on its
    training rows and records the mean per-sample loss on its validation rows. A ridge path
    scores every weight; any other path stops once the mean validation loss has been above
    its best for :data:`PATH_PATIENCE` weights in a row (the weights not reached are never
    chosen). The folds of large inputs run side by side, in as many threads as torch uses.

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
    by_domain : bool, default=False
        Validate on whole held-out domains (see :func:`validation_folds`).
    seed : int, default=0
        Seed of :func:`validation_folds`.

    Returns
    -------
    alpha : float
        The chosen weight.
    losses : ndarray of shape (len(alphas),)
        Mean validation loss of each candidate (``inf`` where a path stopped before it).
    row_losses : ndarray of shape (n_validation_rows,)
        Per-row validation losses at the chosen weight, fold after fold (the same rows in
        the same order for every call with the same ``domain`` and ``seed``), to compare two
        candidate inputs row by row.

    Examples
    --------
    >>> import torch
    >>> from torch.nn import functional as F
    >>> X = torch.randn(300, 5)
    >>> y = (X[:, 0] > 0).long()
    >>> alpha, losses, rows = select_alpha(
    ...     torch.nn.Linear(5, 2), X, y, torch.arange(300) % 3, 3,
    ...     lambda o, t: F.cross_entropy(o, t, reduction="none"), by_domain=True)
    >>> alpha in ALPHA_PATH, rows.shape
    (True, (300,))
    """
    penalty = (_acting(invariance, head), invariance_weight)
    folds = [
        _Fold(
            head,
            inputs,
            target,
            domain,
            n_domains,
            loss_fn,
            penalty,
            (train.to(inputs.device), valid.to(inputs.device)),
            alphas,
        )
        for train, valid in validation_folds(domain, n_domains, by_domain=by_domain, seed=seed)
    ]
    # A ridge path (no penalty acting) costs one factorization whatever its length: all
    # weights at once. Squared-error paths score every weight.
    ridge = all(fold.linear is not None and fold.linear.kind == "ridge" for fold in folds)
    every = isinstance(head, torch.nn.Linear) and loss_kind(loss_fn) == "squared_error"
    per_row = [[] for _ in alphas]
    losses = np.full(len(alphas), np.inf)
    # Threads pay for themselves on large fits only (joblib polls for results).
    large = inputs.shape[0] * inputs.shape[1] >= _PARALLEL_SIZE
    n_jobs = min(len(folds), torch.get_num_threads()) if large else 1
    with _one_blas_thread(), Parallel(n_jobs=n_jobs, prefer="threads") as parallel:
        steps = [list(range(len(alphas)))] if ridge else [[k] for k in range(len(alphas))]
        for step in steps:
            weights = [alphas[k] for k in step]
            scored = parallel(delayed(fold.losses)(weights) for fold in folds)
            for j, k in enumerate(step):
                per_row[k] = [rows[j] for rows in scored]
                losses[k] = np.mean([rows.mean() for rows in per_row[k]])
            k = step[-1]
            if not every and k - int(np.argmin(losses[: k + 1])) >= PATH_PATIENCE:
                break
    best = int(np.argmin(losses))
    return float(alphas[best]), losses, np.concatenate(per_row[best])
