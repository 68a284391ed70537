"""InvariantMaskSelector: sparse, domain-invariant feature selection with learnable gates."""

import copy
import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from .._docstring import fill_doc
from .._validation import (
    atomic_fit,
    check_class_labels,
    check_device,
    check_environments,
    check_float32_range,
    check_guidance,
    check_regression_target,
    draw_seed,
    seeded_torch,
    warn_single_class_domains,
)
from ..exceptions import (
    ClosedGatesWarning,
    PenaltyWithoutEnvironmentsWarning,
    SeqinvWarning,
)
from ..net import ArrayDataset, GatedNet, StageObjective
from ..net._state import NetStateMixin
from ..nn.heads import (
    GatedHead,
    GatedMembers,
    embed_linear,
    expand_inputs,
    make_head,
    restrict_inputs,
)
from ..nn.losses import OutputMean
from ._decision import decision_evidence, held_out_domain_folds
from ._refit import fit_head, fits_by_scikit_learn, select_alpha
from ._tie_filter import TieInvarianceFilter
from ._tie_test import passing

__all__ = ["InvariantMaskSelector"]

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
_REGRESSION_LOSSES = {"squared_error": torch.nn.MSELoss, "absolute_error": torch.nn.L1Loss}


def _resolve_task(task, y):
    if task != "auto":
        return task
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    if kind in ("binary", "multiclass"):
        return "classification"
    if kind in ("continuous", "continuous-multioutput"):
        return "regression"
    raise ValueError(
        f"Cannot infer the task from y of type {kind!r}; InvariantMaskSelector supports "
        "binary or multiclass labels and continuous targets. Set task= explicitly."
    )


def _as_tensor(guidance, X, device, dtype=np.float32):
    """``[guidance, X]`` as one tensor (float32 by default), copying X only when it must."""
    if guidance.shape[1]:
        inputs = np.hstack([guidance, X]).astype(dtype, copy=False)
    else:
        inputs = np.asarray(X, dtype=dtype)
    if not (inputs.flags.writeable and inputs.flags.c_contiguous):
        inputs = np.ascontiguousarray(inputs).copy()
    return torch.from_numpy(inputs).to(device)


def _module_dtype(module):
    return next(module.parameters()).dtype


class _Problem(NamedTuple):
    """The validated inputs of one fit, as arrays and as the tensors the steps train on."""

    X: np.ndarray
    y: np.ndarray
    domain: np.ndarray  # environment code of each row
    guide: np.ndarray  # guidance columns (none for an unguided stage)
    given: bool  # whether sample_domain or sample_group reached fit
    dataset: ArrayDataset
    n_outputs: int
    device: torch.device
    sparsity: np.ndarray  # the sparsity multiplier of each column
    seed: int


class _Prefit(NamedTuple):
    """Step 1: the ungated head on every column and its L2 weight, and the head pre-fitted
    on the training rows of each fold the decision holds out."""

    alpha: float
    head: torch.nn.Module
    held_out: float | None  # the chosen weight's held-out loss, when ``alpha`` is chosen
    reusable: bool  # fitted by scikit-learn at a chosen weight: the refit on every column
    folds: list  # (train, test) row indices of each held-out fold
    fold_heads: list


class _CrossFit(NamedTuple):
    """Gates trained without one held-out fold, and the pre-fit on its rows (or None)."""

    train: np.ndarray
    test: np.ndarray
    gates: np.ndarray
    scores: np.ndarray
    prefit: torch.nn.Module | None


class _GatePhase(NamedTuple):
    """Step 2: the trained net, its deterministic gates, and the gates blind to each
    held-out fold when they trained beside it (else None)."""

    net: GatedNet
    gates: np.ndarray
    cross_fits: list | None


class _Decision(NamedTuple):
    """Step 4: the kept columns, whether they are the gated selection, and the evidence."""

    support: np.ndarray
    kept: bool
    evidence: Bunch | None


def _gate_values(module):
    """Deterministic gate of every gated column (ones without a gate), as float64."""
    with torch.no_grad():
        return module.gate_values().detach().cpu().double().numpy()


def _gate_scores(module, n_features):
    """The gates' unclamped parameters, which break ties among gates clamped at 1."""
    if module.gate is None:
        return np.ones(n_features)
    return module.gate.scores().detach().cpu().double().numpy()


def _could_classify(estimator):
    if hasattr(estimator, "task_"):
        return estimator.task_ == "classification"
    return estimator.task != "regression"


@fill_doc
class InvariantMaskSelector(NetStateMixin, SelectorMixin, BaseEstimator):
    """Select sparse, domain-invariant features with learnable stochastic gates.

    A fit has five steps:

    1. **Pre-fit.** An ungated head on every column, full batch (a linear head is
       scikit-learn's ``LogisticRegression`` or ``Ridge`` with domain-balanced
       ``sample_weight``), with its L2 weight chosen on held-out rows of the training domains.
       A gated head with a hidden layer (not refitted with ``refit="auto"``) starts the
       gate phase from the linear pre-fit, carried exactly by two hidden units per output
       (:func:`~sklearn_seqinv.nn.heads.embed_linear`): no full-batch fit of a network.
    2. **Gates.** Each column gets a gate ``z_j`` in ``[0, 1]``, stochastic during training
       and deterministic at inference. Gates and head (warm-started from the pre-fit, with its
       L2 weight as weight decay) are trained by skorch on the mean per-domain risk, an
       invariance penalty across domains (V-REx or IRMv1) and ``sparsity`` times the expected
       number of open gates, each open gate costing ``log(n) / (2n)`` (BIC's price of a
       parameter, in units of the negative log-likelihood). Columns whose deterministic gate
       exceeds ``threshold`` are kept.
    3. **Invariance test.** For guided stages (later modalities of a sequential fit), a kept
       column whose tie to the label, beyond what the guidance predicts (its cross-fitted
       scores), differs across training domains (Cochran's Q, Bonferroni) is dropped: a tie
       that keeps its sign but changes strength is what an invariance penalty misses. So is
       a column whose tie is not shown to exist inside the domains (its fixed-effects,
       within-domain tie against zero, Bonferroni): an offset between domains that goes
       with their share of positives is not a tie, whichever candidate step 4 keeps.
    4. **Decision.** With ``validate_selection``, the kept columns compete with every
       column that passes step 3 (the dense candidate), judged only on domains that did
       not shape them (cross-fitting by domain): step 2 trains, in the same loop, one more
       set of gates and head per training domain held out (``GatedMembers``; at most 5
       folds of whole domains), each blind to it. On each held-out domain the columns its
       gates kept and the dense candidate get the same head, fitted without it, and the
       gain is the dense candidate's loss minus the sparse one's. The sparse selection is
       kept when the mean gain exceeds one standard error of that mean across the held-out
       domains (``sparse_wins``; ``selection_evidence_`` records the gains), else the dense
       candidate replaces it. Cross-fits see one domain fewer than the fit, so the rule is
       pessimistic about a selection that needs every training domain to find its
       invariant columns (docs/method.rst, ``benchmarks/bench_decisions.py``). A guided
       stage's kept columns are also compared with the guidance alone there: a modality
       that does not lower the mean held-out loss is left out (the stage keeps none:
       modality trust), and the held-out domains where it hurts are named
       (``modality_risk``).
    5. **Refit.** The head is refitted on the kept columns, full batch, with its L2 weight
       chosen on held-out training rows, or, with ``alpha="domains"``, on whole training
       domains held out in turn, each fitted without it (docs/method.rst, step 4).

    The estimator holds the fitted skorch net as ``net_``. Steps 1 and 4 make the ungated
    head (``gate=None, invariance=None``) a tuned linear model; they cost a few full-batch
    fits per candidate weight (``benchmarks/bench_selector_speed.py`` measures them).

    Parameters
    ----------
    sparsity : float or array-like of shape (n_features,), default=4.0
        Multiplier of the per-gate cost ``log(n) / (2n)``; the parameter to grid-search.
        Larger values select fewer features. The cost does not depend on the number of
        columns, so the default serves 20 and 768 columns alike; 4 (rather than BIC's 1)
        leaves a margin for the noisy optimization of stochastic gates, which otherwise keeps
        some pure-noise columns on wide inputs.
        One non-negative weight per column gives each column its own multiplier (a joint
        fit over several modalities gives each modality its own weight this way).
    alpha : {"auto", "rows", "domains"} or float, default="auto"
        L2 weight of the head (``alpha / 2 * ||W||^2`` on the mean loss; ``1 / (C * n)`` for
        scikit-learn's ``C``), or how to choose it on a path from 10 to 1e-4 by a validation
        loss: ``"rows"`` (and ``"auto"``) on a held-out fifth of every training domain
        (DomainBed's training-domain validation); ``"domains"``, for the refitted head, on
        each training domain held out in turn, fitted without it (at most five folds of
        whole domains; rows with one domain), the pre-fit still on rows. Neither wins
        everywhere (step 5; ``benchmarks/bench_refit_weight.py``).
    refit : bool or "auto", default="auto"
        Refit the head on the kept columns after the gates are learnt (step 5); ``False``
        predicts with the head of the gate phase on the kept columns, each scaled by its
        gate (a column dropped by the threshold or the tie test is closed, so
        ``predict`` and ``transform`` agree on what is used). ``"auto"`` refits a linear
        head (scikit-learn's full-batch fit, a tuned linear model on the kept columns) and
        an ungated head (``gate=None``: that fit is the whole fit), and keeps the head trained
        with the gates when a gated head has a hidden layer (``hidden_units``): a full-batch
        fit of a network costs many times the gate phase. Step 4 needs the refit, so it runs
        for linear heads only unless ``refit=True``.
    tie_test_level : float, "auto" or None, default="auto"
        Family-wise level of the tie test of step 3. ``"auto"`` applies it at 0.05
        when ``guidance`` is given (a later modality must show that it holds across domains)
        and not to an unguided first modality, whose dense columns (text embeddings) routinely
        vary in strength across domains while still helping on new ones. ``None`` never tests.
        A guided stage fitted on one environment (a single ``sample_domain`` and no
        ``sample_group``) has nothing to test against: no column passes (p-values NaN) and
        the stage keeps none. Without any ``sample_domain`` the test is off.
    heterogeneity_level : float, "auto" or None
        Deprecated: renamed ``tie_test_level`` (it is the level of the whole tie test, of
        which the heterogeneity across domains is one part); to be removed in 0.3.
    validate_selection : bool, default=True
        Let the kept columns compete with all invariant columns on held-out training domains
        by cross-fitting (step 4); needs a chosen ``alpha`` (not a float) and a refit
        (``refit``). The gate phase then trains one gated copy per held-out fold beside the
        fit (one loop; about 1.5 times the work per step with four domains).
        ``selection_kept_`` says which won.
        Fitted on a single given domain (no ``sample_group``), an unguided stage keeps all
        columns: no held-out domain can show that a sparse selection generalizes.
    invariance : {"vrex", "irm", "coral"} or None, default="vrex"
        Penalty across domains: V-REx or IRMv1 over the per-domain risks, or CORAL (Sun and
        Saenko, 2016) over the mean and covariance of the representation the head's last
        linear layer reads (the gated columns and guidance of a linear head, the hidden layer
        of an MLP head; on an ungated linear head that representation is the fixed input and
        CORAL has nothing to move). ``None`` trains plain (sparse) ERM. Every penalty is zero
        when fewer than two domains are present.
    invariance_weight : float, default=100.0
        Weight of the invariance penalty after warm-up, inside DomainBed's V-REx search range
        (1 to 1e5): large enough that a feature whose tie to ``y`` changes in strength across
        the training domains costs more in risk variance than it gains in mean risk on
        standardized data, small enough that the invariant columns keep their gates.
    invariance_warmup : int, default=10
        Epochs over which the invariance weight ramps linearly from 0, so the head first learns
        what predicts ``y`` and the penalty then removes what does not hold across domains.
    gate : {"stg", "hard_concrete"} or None, default="stg"
        Gaussian stochastic gate (Yamada et al., 2020) or hard-concrete L0 gate (Louizos et
        al., 2018); ``None`` keeps every column (a plain head, the ERM baseline).
    gate_noise : float, default=0.5
        Noise scale ``sigma`` of the Gaussian gate, temperature of the hard-concrete gate.
    threshold : float, default=0.5
        A column is selected when its deterministic gate is larger than this.
    max_features : int or None, default=None
        Keep at most this many columns, the ones with the largest gates.
    hidden_units : int, default=0
        Width of the head's hidden layer; 0 gives a linear head.
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"`` infers the task from ``y`` (integer-valued floats count as classes).
    regression_loss : {"squared_error", "absolute_error"}, default="squared_error"
        Task loss for regression.
    redundancy : float, default=0.0
        Weight of the squared cross-correlation between the gated columns and the guidance.
    balance_domains : bool, default=True
        Draw the same number of rows from every domain in each training batch.
    max_epochs : int, default=100
        Training epochs of the gate phase, at most.
    n_iter_no_change : int or None, default=10
        End the gate phase once the invariance weight is warmed up, the selected columns
        (deterministic gate above ``threshold``) have not changed for this many epochs, and
        they would still be the same at ``max_epochs`` if every gate kept moving at its rate
        over those epochs: the refit that follows depends on the selection only. ``None``
        trains ``max_epochs``. 10 and 20 gave the same selections and scores in 23 fits of
        generated and review data, 10 in 12% less time (``benchmarks/bench_settling.py``).
    batch_size : int, default=128
        Training and inference batch size (with several domains, at least 32 rows of each per
        training batch). Larger batches take fewer steps per epoch, and gates move about
        ``lr`` per step: in as many epochs they close fewer noise and spurious columns, and
        a doubled batch with a doubled ``lr`` made two of the main job's text-first fits 4%
        faster, not twice, and changed what they kept.
    lr : float, default=0.03
        Learning rate; with Adam a gate moves at most about ``lr`` per step, and a gate must
        travel about 1 to close, so 0.03 closes useless gates within the first few hundred
        steps while the head stays stable.
    weight_decay : float or None, default=None
        L2 weight decay of the head during the gate phase (never of the gates); ``None`` uses
        the pre-fit's L2 weight.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimizer of the gates and the head ("adam" and "adamw" use torch's fused
        implementation on CPU and CUDA). A class whose ``step`` needs a closure (L-BFGS)
        gets skorch's closure; it takes one parameter group, so pass ``weight_decay=0``.
    device : str, default="cpu"
        Torch device to train on.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (e.g. ``skorch.callbacks.EarlyStopping``).
    verbose : int, default=0
        ``1`` prints skorch's epoch log with the task, invariance and sparsity terms (the
        fit's own; while step 4's blind copies train beside it, ``train_loss`` is the sum
        of their stage losses and the fit's).
    random_state : int, RandomState instance or None, default=None
        Seeds the gate noise, initialization and batch order; the caller's global torch and
        numpy generators are left untouched.

    Attributes
    ----------
    gates_ : ndarray of shape (n_features,)
        Deterministic gate per input column, in ``[0, 1]``.
    support_ : ndarray of bool of shape (n_features,)
        The kept columns (what ``transform`` returns and the refitted head uses). Empty only
        for a guided stage (``guidance`` given) in which no column passed: the stage adds
        nothing and the head predicts from the guidance alone (modality trust). Otherwise at
        least the strongest column is kept, with a warning.
    alpha_ : float
        The L2 weight of the refitted head (when the head is refitted, see ``refit``).
    selection_kept_ : bool
        ``False`` when ``validate_selection`` replaced the gated selection by all columns
        that pass the tie test, because the selection did not beat them out of domain
        (when the head is refitted).
    selection_evidence_ : Bunch or None
        The evidence of step 4, when it ran: ``held_out`` (the held-out domains),
        ``gains`` (on each, the dense candidate's mean loss minus the sparse one's),
        ``sparse_kept_per_fold`` (columns the gates blind to it kept among the passing
        ones), ``dense_columns``, ``sparse_columns``, ``stable_columns`` (kept by more than
        half of the blind gates), ``statistic`` (mean gain over its standard error across
        the held-out domains; NaN when the candidates were the same), ``threshold`` (the
        standard errors it had to exceed) and ``sparse_kept``; for a guided stage,
        ``modality_gains`` (on each held-out domain, the loss of a head on the guidance
        alone minus the chosen candidate's) and their ``modality_statistic`` (mean over
        standard error), ``modality_kept`` (``False`` when their mean is
        not above zero: the stage then keeps no column) and
        ``modality_risk`` (the held-out domains where the modality hurts). ``None`` when
        nothing was to decide
        (an unguided stage keeping every column, one environment,
        ``validate_selection=False``).
    heterogeneity_pvalues_ : ndarray of shape (n_features,)
        p-value of every column's tie test, when the test ran (NaN for a guided
        stage fitted on one environment: nothing could be tested, nothing passes).
    tie_pvalues_ : ndarray of shape (n_features,)
        p-value of every column's "no tie to the label inside any environment" (the
        fixed-effects test of step 3), when the test ran: a column must reject it to pass.
    net_ : GatedNet
        The fitted skorch net.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``task_loss``, ``invariance_penalty``, ``sparsity_penalty``,
        and, with gates, ``open_gates`` (the fit's gates above 0) and ``selected_columns``
        (above ``threshold``: what the selection would keep at that epoch).
    task_ : str
        ``"classification"`` or ``"regression"``.
    classes_ : ndarray
        Class labels (classification only).
    domains_ : ndarray
        Domain labels seen in ``fit``.
    n_environments_ : int
        Number of environments compared in ``fit``: the domains, or the (domain, group)
        pairs when ``sample_group`` was given (sub-groups too small to stand alone pooled).
    n_pooled_groups_ : int
        Sub-groups of fewer than 10 rows (``MIN_GROUP_ROWS``), too few for a risk or a tie
        of their own, pooled with the other small sub-groups of their domain (0 without
        ``sample_group``).
    n_guidance_features_ : int
        Number of guidance columns seen in ``fit``.
    %(features_in)s

    Examples
    --------
    >>> from sklearn_seqinv import InvariantMaskSelector
    >>> from sklearn_seqinv.datasets import make_multimodal_domains
    >>> data = make_multimodal_domains(n_samples=300, modalities={"text": 10}, random_state=0)
    >>> selector = InvariantMaskSelector(max_epochs=20, random_state=0)
    >>> selector.fit(data.X, data.y, sample_domain=data.sample_domain)
    InvariantMaskSelector(max_epochs=20, random_state=0)
    >>> selector.transform(data.X).shape[0]
    300
    """

    __metadata_request__fit = {"sample_domain": True, "sample_group": True}

    _parameter_constraints = {
        "sparsity": [Interval(Real, 0, None, closed="left"), "array-like"],
        "alpha": [StrOptions({"auto", "rows", "domains"}), Interval(Real, 0, None, closed="left")],
        "refit": ["boolean", StrOptions({"auto"})],
        "tie_test_level": [Interval(Real, 0, 1, closed="neither"), StrOptions({"auto"}), None],
        "heterogeneity_level": [
            Interval(Real, 0, 1, closed="neither"),
            StrOptions({"auto"}),
            Hidden(StrOptions({"deprecated"})),
            None,
        ],
        "validate_selection": ["boolean"],
        "invariance": [StrOptions({"vrex", "irm", "coral"}), None],
        "invariance_weight": [Interval(Real, 0, None, closed="left")],
        "invariance_warmup": [Interval(Integral, 0, None, closed="left")],
        "gate": [StrOptions({"stg", "hard_concrete"}), None],
        "gate_noise": [Interval(Real, 0, None, closed="neither")],
        "threshold": [Interval(Real, 0, 1, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_units": [Interval(Integral, 0, None, closed="left")],
        "task": [StrOptions({"auto", "classification", "regression"})],
        "regression_loss": [StrOptions(set(_REGRESSION_LOSSES))],
        "redundancy": [Interval(Real, 0, None, closed="left")],
        "balance_domains": ["boolean"],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left"), None],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), callable],
        "device": [str],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        sparsity=4.0,
        *,
        alpha="auto",
        refit="auto",
        tie_test_level="auto",
        heterogeneity_level="deprecated",
        validate_selection=True,
        invariance="vrex",
        invariance_weight=100.0,
        invariance_warmup=10,
        gate="stg",
        gate_noise=0.5,
        threshold=0.5,
        max_features=None,
        hidden_units=0,
        task="auto",
        regression_loss="squared_error",
        redundancy=0.0,
        balance_domains=True,
        max_epochs=100,
        n_iter_no_change=10,
        batch_size=128,
        lr=0.03,
        weight_decay=None,
        optimizer="adam",
        device="cpu",
        callbacks=None,
        verbose=0,
        random_state=None,
    ):
        self.sparsity = sparsity
        self.alpha = alpha
        self.refit = refit
        self.tie_test_level = tie_test_level
        self.heterogeneity_level = heterogeneity_level
        self.validate_selection = validate_selection
        self.invariance = invariance
        self.invariance_weight = invariance_weight
        self.invariance_warmup = invariance_warmup
        self.gate = gate
        self.gate_noise = gate_noise
        self.threshold = threshold
        self.max_features = max_features
        self.hidden_units = hidden_units
        self.task = task
        self.regression_loss = regression_loss
        self.redundancy = redundancy
        self.balance_domains = balance_domains
        self.max_epochs = max_epochs
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, sample_domain=None, sample_group=None, guidance=None):
        """Learn the gates and the head.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the modality to select from (standardized works best).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Class labels or continuous targets.
        sample_domain : array-like of shape (n_samples,), default=None
            Domain label of each row. With two or more domains the invariance penalty applies
            and batches are domain-balanced.
        sample_group : array-like of shape (n_samples,), default=None
            Sub-group of each row inside its domain (a video, a speaker, a product). When
            given, the environments that the invariance penalty, the balanced batches, the
            held-out validation and the tie test compare are the (domain, group) pairs
            instead of the domains: this is what lets a single source domain reject a tie
            that changes across its sub-groups. Sub-groups of fewer than 10 rows are pooled
            with the other small sub-groups of their domain (``n_pooled_groups_``).
        guidance : array-like of shape (n_samples, n_guidance), default=None
            Already-selected features of earlier modalities, fed to the head and never gated.

        Returns
        -------
        self : InvariantMaskSelector
            The fitted selector.
        """
        problem = self._check_fit_data(X, y, sample_domain, sample_group, guidance)
        with seeded_torch(problem.seed, problem.device):
            prefit = self._prefit(problem)
            phase = self._gate_phase(problem, prefit)
            ties = self._tie_test(problem)
            decision = self._decide(problem, phase, ties, prefit)
            alpha = self._refit(problem, phase.net, decision.support, prefit)
        # Inference in float64: predictions of a row do not depend on the batch it is in.
        phase.net.module_.double()
        self.net_, self.history_, self.gates_ = phase.net, phase.net.history, phase.gates
        self.support_ = decision.support
        self.selection_kept_, self.selection_evidence_ = decision.kept, decision.evidence
        optional = {
            "alpha_": alpha,
            "heterogeneity_pvalues_": None if ties is None else ties.pvalues_,
            "tie_pvalues_": None if ties is None else ties.tie_pvalues_,
        }
        for name, value in optional.items():
            if value is None:
                self.__dict__.pop(name, None)  # not left over from an earlier fit
            else:
                setattr(self, name, value)
        return self

    def _check_fit_data(self, X, y, sample_domain, sample_group, guidance):
        """Validate the inputs and set what describes them (``n_features_in_``,
        ``domains_``, ``n_environments_``, ``n_pooled_groups_``, ``n_guidance_features_``,
        ``task_``, ``classes_``); the tensors of the fit as a :class:`_Problem`."""
        X, y = validate_data(
            self, X, y, dtype=[np.float32, np.float64], multi_output=True, ensure_min_samples=2
        )
        check_float32_range(X)
        domain, self.domains_, self.n_pooled_groups_ = check_environments(
            sample_domain, sample_group, X.shape[0]
        )
        self.n_environments_ = int(domain.max()) + 1
        if self.invariance is not None and self.n_environments_ < 2:
            given = "no sample_domain" if sample_domain is None else "one domain"
            given += " and no sample_group" if sample_group is None else " with one sub-group"
            warnings.warn(
                f"{type(self).__name__} was asked for the {self.invariance!r} invariance "
                f"penalty, but {given} "
                "reached fit, so the penalty is zero and this is plain sparse ERM. Pass "
                "sample_domain, or sample_group for sub-groups of a single source (through a "
                "Pipeline as <step>__sample_domain, or with metadata routing on), or set "
                "invariance=None to silence this.",
                PenaltyWithoutEnvironmentsWarning,
                stacklevel=4,
            )
        guide = check_guidance(guidance, X.shape[0])
        self.n_guidance_features_ = guide.shape[1]
        self.task_ = _resolve_task(self.task, y)
        target, n_outputs = self._encode_target(y)
        if self.task_ == "classification":
            warn_single_class_domains(y, sample_domain, type(self).__name__)
        device = check_device(self.device)
        sparsity = self._column_sparsity(X.shape[1])
        dataset = ArrayDataset(
            _as_tensor(guide, X, device),
            target.to(device),
            torch.from_numpy(domain).to(device),
        )
        given = sample_domain is not None or sample_group is not None
        seed = draw_seed(self.random_state)
        return _Problem(X, y, domain, guide, given, dataset, n_outputs, device, sparsity, seed)

    def _column_sparsity(self, n_features):
        """The sparsity multiplier of every column (``sparsity`` may give one per column)."""
        weights = np.asarray(self.sparsity, dtype=np.float64)
        if weights.ndim == 0:
            return np.full(n_features, float(weights))
        if weights.shape != (n_features,):
            raise ValueError(
                f"sparsity has shape {weights.shape}; give one float or one weight per column "
                f"of X ({n_features})."
            )
        if not (np.isfinite(weights).all() and (weights >= 0).all()):
            raise ValueError("sparsity weights must be finite and non-negative.")
        return weights

    def _prefit(self, problem):
        """Step 1: an ungated head on every column, full batch, its L2 weight chosen on
        held-out training rows; and the same head pre-fitted on the rows of each fold the
        decision holds out (the starts of the gates blind to it). ``None`` for an ungated
        head that is refitted: its refit is the whole fit.

        The pre-fit gives the gate phase a head that already knows what predicts ``y`` and
        an L2 weight that stops it from fitting noise through the columns the gates should
        close; its held-out residual sets the loss unit of the sparsity term for regression.
        A gated hidden-layer head that is not refitted starts from the linear pre-fit,
        carried exactly by its hidden layer (:func:`~sklearn_seqinv.nn.heads.embed_linear`).
        """
        if self.gate is None and self._refits():
            return None
        dataset, n_outputs = problem.dataset, problem.n_outputs
        device = problem.device
        loss_fn = self._per_sample_loss()
        alpha, held_out = self.alpha, None
        n_inputs = dataset.X.shape[1]
        embeds = self._embeds_linear(n_outputs)
        head = make_head(n_inputs, n_outputs, 0 if embeds else self.hidden_units).to(device)
        args = (dataset.X, dataset.y, dataset.domain, self.n_environments_, loss_fn)
        if isinstance(alpha, str):
            alpha, path_losses, _ = select_alpha(head, *args, seed=problem.seed)
            held_out = float(path_losses.min())
        alpha = float(alpha)
        fit_head(head, *args, alpha=alpha)
        if embeds:
            hidden = make_head(n_inputs, n_outputs, self.hidden_units).to(device)
            head = embed_linear(hidden, head)
        folds = self._cross_fit_folds(problem.domain)
        fold_heads = []
        for train, _ in folds:
            index = torch.from_numpy(train).to(device)
            # A linear fold starts from the pre-fit's solution: the same (convex) optimum on
            # the fold's rows, reached sooner. A hidden layer starts afresh: its fit would
            # keep what the held-out rows taught the pre-fit.
            fold_head = (
                copy.deepcopy(head)
                if not self.hidden_units
                else make_head(n_inputs, n_outputs, self.hidden_units).to(device)
            )
            fold_args = (dataset.X[index], dataset.y[index], dataset.domain[index])
            fit_head(
                fold_head, *fold_args, self.n_environments_, loss_fn, alpha=alpha, warm_start=True
            )
            fold_heads.append(fold_head)
        reusable = held_out is not None and fits_by_scikit_learn(head, loss_fn, dataset.y)
        return _Prefit(alpha, head, held_out, reusable, folds, fold_heads)

    def _gate_phase(self, problem, prefit):
        """Step 2: train gates and head from the pre-fit in skorch's loop, with the gates
        blind to each held-out fold (:class:`~sklearn_seqinv.nn.GatedMembers`) beside the
        fit's own when the decision needs them. A :class:`_GatePhase`.

        A column is worth a gate when it lowers the mean negative log-likelihood by more than
        BIC's log(n) / (2n), whatever the width. Squared and absolute errors are measured in
        likelihood units, scaled by the pre-fit's held-out residual (Gaussian NLL = MSE /
        (2 s^2), Laplace NLL = MAE / b), so the same invariance weight and sparsity unit serve
        classification and regression.
        """
        dataset, n_outputs, device = problem.dataset, problem.n_outputs, problem.device
        n_features = dataset.X.shape[1] - self.n_guidance_features_
        if prefit is None:
            net = self._make_net(n_features, n_outputs, device, None, 0.0).initialize()
            return _GatePhase(net, _gate_values(net.module_), None)
        loss_fn = self._per_sample_loss()
        heads = [prefit.head, *prefit.fold_heads]
        rows = [np.arange(dataset.X.shape[0])] + [train for train, _ in prefit.folds]
        units = np.array([np.log(len(r)) / (2.0 * len(r)) for r in rows])
        scales = [
            self._loss_scale(fit, dataset, r, prefit.held_out if i == 0 else None, loss_fn)
            for i, (fit, r) in enumerate(zip(heads, rows))
        ]
        decay = prefit.alpha if self.weight_decay is None else self.weight_decay
        weights = problem.sparsity
        net = self._make_net(n_features, n_outputs, device, weights * units[0], decay, scales[0])
        net.initialize()
        net.module_.head.load_state_dict(prefit.head.state_dict())
        if not prefit.folds:
            net.partial_fit(dataset, None, **net.fit_params())
            return _GatePhase(net, _gate_values(net.module_), None)
        sparsity = weights[None] * units[:, None]
        trainer = self._member_net(
            net, heads, problem.domain, prefit.folds, sparsity, decay, scales
        )
        trainer.partial_fit(dataset, None)
        members = trainer.module_
        net.module_.load_state_dict(members.member(0).state_dict())
        net.history = trainer.history
        with torch.no_grad():
            gates = members.gate.gate_values().detach().cpu().double().numpy()
            scores = members.gate.scores().detach().cpu().double().numpy()
        cross_fits = [
            _CrossFit(train, test, gates[i], scores[i], prefit.fold_heads[i - 1])
            for i, (train, test) in enumerate(prefit.folds, start=1)
        ]
        return _GatePhase(net, _gate_values(net.module_), cross_fits)

    def _embeds_linear(self, n_outputs):
        """Whether the pre-fit of a hidden-layer head is a linear one embedded in it
        (:func:`~sklearn_seqinv.nn.heads.embed_linear`): for a gated head that is not
        refitted, so the fit needs no full-batch fit of a network at all; a refitted hidden
        head is pre-fitted as itself (its held-out comparisons start from there)."""
        return bool(self.hidden_units and not self._refits() and self.hidden_units >= 2 * n_outputs)

    def _loss_scale(self, head, dataset, rows, held_out, loss_fn):
        """The gate phase's loss unit for regression (1 for classification): twice the
        residual variance (squared error) or the mean absolute residual, held-out when the
        pre-fit measured it, else on the training ``rows``."""
        if self.task_ != "regression":
            return 1.0
        residual = held_out
        if residual is None:
            index = torch.from_numpy(rows).to(dataset.X.device)
            with torch.no_grad():
                residual = float(loss_fn(head(dataset.X[index]), dataset.y[index]).mean())
        scale = 2.0 * residual if self.regression_loss == "squared_error" else residual
        return max(scale, 1e-12)

    def _cross_fit_folds(self, domain):
        """The held-out folds whose gates step 4 needs, trained with the fit's own gates
        (one loop, :class:`~sklearn_seqinv.nn.GatedMembers`); none when step 4 cannot run,
        or when its penalty (CORAL) or the redundancy term needs a single module (step 4
        then refits the gates per fold)."""
        if not self._may_decide() or self.n_environments_ < 2:
            return []
        if self.invariance == "coral" or (self.redundancy > 0 and self.n_guidance_features_):
            return []
        return held_out_domain_folds(domain, self.n_environments_)

    def _may_decide(self):
        return bool(self.validate_selection) and isinstance(self.alpha, str) and self._refits()

    def _refits(self):
        """Whether step 5 refits the head: ``refit``, where ``"auto"`` refits a linear head
        and an ungated one (its full-batch fit is the whole fit), not a gated head with a
        hidden layer (the head trained with the gates is final)."""
        if self.refit == "auto":
            return not (self.hidden_units and self.gate is not None)
        return bool(self.refit)

    def _member_net(self, net, heads, codes, folds, sparsity, decay, scales):
        """The skorch net that trains ``net``'s gates and head (member 0) beside one gated
        copy per fold, each blind to its held-out domains."""
        membership = np.ones((len(heads), self.n_environments_), dtype=np.float32)
        for i, (_, test) in enumerate(folds, start=1):
            membership[i, np.unique(codes[test])] = 0.0
        starts = []
        for head in heads:
            member = copy.deepcopy(net.module_)
            member.head.load_state_dict(head.state_dict())
            starts.append(member)
        module = GatedMembers(starts, torch.from_numpy(membership))
        n_features = net.module_.head_inputs - self.n_guidance_features_
        if any(scale != 1.0 for scale in scales):
            scales = torch.tensor(scales, dtype=torch.float32, device=net.device)
            scales = scales.reshape(-1, 1)
        else:
            scales = 1.0
        members = self._make_net(
            n_features,
            net.module_.head_outputs,
            net.device,
            sparsity,
            decay,
            scales,
            module=module.to(net.device),
        )
        return members.initialize()

    def _per_sample_loss(self):
        if self.task_ == "classification":
            criterion = torch.nn.CrossEntropyLoss(reduction="none")
            return criterion
        return OutputMean(_REGRESSION_LOSSES[self.regression_loss](reduction="none"))

    def _tie_test(self, problem):
        """Step 3: the tie test (:class:`TieInvarianceFilter`) fitted on the training
        environments, or ``None`` where it does not apply.

        Without any ``sample_domain`` or ``sample_group`` there is no DG question to answer
        and the test is off; with them but a single environment, a guided stage cannot show
        invariance and nothing passes (modality trust: the stage adds nothing).
        """
        level = self.tie_test_level
        if self.heterogeneity_level != "deprecated":
            warnings.warn(
                "heterogeneity_level was renamed tie_test_level and will be removed in 0.3; "
                "its value is used as tie_test_level.",
                FutureWarning,
                stacklevel=5,
            )
            level = self.heterogeneity_level
        if level == "auto":
            level = 0.05 if self.n_guidance_features_ else None
        guided = self.n_guidance_features_ > 0 and problem.given
        if level is None or self.gate is None or (self.n_environments_ < 2 and not guided):
            return None
        test = TieInvarianceFilter(level, task=self.task_)
        return test.fit(problem.X, problem.y, sample_domain=problem.domain, guidance=problem.guide)

    @staticmethod
    def _passing(candidates, ties):
        """The ``candidates`` that pass the tie test ``ties`` (all of them without one)."""
        if ties is None:
            return candidates
        return passing(candidates, ties.pvalues_, ties.level, ties.tie_pvalues_)

    def _decide(self, problem, phase, ties, prefit):
        """Step 4: what the stage keeps, a :class:`_Decision`: the gated selection or every
        column that passes the tie test (the dense candidate), and, for a guided stage,
        whether the modality is added at all.

        The gated selection stays without ``validate_selection``, with a fixed ``alpha``,
        for a head that is not refitted, or when an unguided stage's gates keep every
        passing column. With one environment no held-out domain can show that a sparse
        selection generalizes: the dense candidate stays (an unguided stage fitted on one
        given domain keeps it even when the tie test passed no more columns). Else the
        sparse selection must win on held-out training domains, judged by gates that never
        saw them, and a guided stage's columns must improve on the guidance alone there
        (:meth:`_judge_by_held_out_domains`).
        """
        gated = self._passing(self._support_from_gates(phase.gates, phase.net), ties)
        if not self._may_decide():
            return _Decision(gated, True, None)
        dense = self._passing(np.ones_like(gated), ties)
        larger = dense.sum() > gated.sum()
        if self.n_environments_ < 2:
            if larger or (problem.given and not self.n_guidance_features_):
                return _Decision(dense, False, None)
            return _Decision(gated, True, None)
        guided = self.n_guidance_features_ > 0 and dense.any()
        if not (larger or guided):
            return _Decision(gated, True, None)
        cross_fits = phase.cross_fits
        if cross_fits is None:
            cross_fits = self._refit_gates_per_fold(problem, prefit.alpha)
        evidence = self._judge_by_held_out_domains(
            problem, gated, dense, prefit.alpha, cross_fits, compare=larger, guided=guided
        )
        support = gated if evidence.sparse_kept else dense
        if guided and not evidence.modality_kept:
            # Modality trust: the stage adds nothing, the head reads the guidance alone.
            support = np.zeros_like(support)
        return _Decision(support, bool(evidence.sparse_kept), evidence)

    def _head_columns(self, support, dataset):
        """Indices of the head's inputs for ``support``: the guidance, then the kept
        columns (the others are zero at inference: their weights cost no work)."""
        keep = np.concatenate([np.ones(self.n_guidance_features_, dtype=bool), support])
        return torch.from_numpy(np.flatnonzero(keep)).to(dataset.X.device)

    def _refit_gates_per_fold(self, problem, alpha):
        """The gates of every held-out fold, each trained by a fit of its own (the penalty
        or the redundancy term that :class:`~sklearn_seqinv.nn.GatedMembers` cannot train
        side by side): a :class:`_CrossFit` per fold, without a pre-fit head."""
        params = {
            **self.get_params(deep=False),
            "alpha": alpha,
            "refit": False,
            "validate_selection": False,
            "tie_test_level": None,
            "heterogeneity_level": "deprecated",
            "callbacks": None,
            "verbose": 0,
            "random_state": problem.seed,
        }
        X, y, domain, guide = problem.X, problem.y, problem.domain, problem.guide
        cross_fits = []
        for train, test in held_out_domain_folds(domain, self.n_environments_):
            with warnings.catch_warnings():
                # One environment left, closed gates: the decision reads the gates alone.
                warnings.simplefilter("ignore", SeqinvWarning)
                gated = InvariantMaskSelector(**params).fit(
                    X[train],
                    y[train],
                    sample_domain=domain[train],
                    guidance=guide[train] if guide.shape[1] else None,
                )
            scores = _gate_scores(gated.net_.module_, gated.n_features_in_)
            cross_fits.append(_CrossFit(train, test, gated.gates_, scores, None))
        return cross_fits

    def _judge_by_held_out_domains(
        self, problem, gated, dense, alpha, cross_fits, *, compare=True, guided=False
    ):
        """Keep the sparse selection (``gated``) or the dense candidate (``dense``), and a
        guided stage's modality or the guidance alone, judged on domains that did not shape
        the selection (cross-fitting by domain).

        For each fold of training environments held out (``held_out_domain_folds``),
        the gates trained without it (``cross_fits``) keep their sparse candidate among the
        passing columns, every passing column is the dense one. Each gets a head fitted
        without the fold at the pre-fit's L2 weight, and the gain on each held-out
        environment is the dense candidate's mean loss minus the sparse one's;
        ``sparse_wins`` decides from those gains, one per held-out environment
        (``compare=False``: the candidates are the same, the sparse one stays). For a
        guided stage (``guided``), the chosen candidate must then improve on a head on the
        guidance alone (``modality_gains``): it is left out when it does not lower the mean
        held-out loss (``modality_kept``), and the held-out domains where it hurts are named
        (``modality_risk``). The evidence also counts the columns kept by more than half of
        the folds' gates (``stable_columns``).
        """
        dataset, domain = problem.dataset, problem.domain
        labels = self.domains_ if len(self.domains_) == self.n_environments_ else None
        losses, kept, held_out, votes = [], [], [], np.zeros(len(dense))
        loss_fn = self._per_sample_loss()
        nothing = np.zeros_like(dense)
        for fold in cross_fits:
            train, test = fold.train, fold.test
            sparse = self._support_from_gates(fold.gates, scores=fold.scores) & dense
            votes += sparse
            # The fold's pre-fit is the dense head when the dense candidate is every column:
            # the same columns, rows and weight.
            fold_y = dataset.y[torch.from_numpy(train).to(dataset.X.device)]
            reuse = dense.all() and fold.prefit is not None
            if reuse and fits_by_scikit_learn(fold.prefit, loss_fn, fold_y):
                dense_head = fold.prefit
            else:
                dense_head = self._held_out_head(problem, dense, train, alpha)
            candidates = [(sparse, self._held_out_head(problem, sparse, train, alpha))]
            candidates.append((dense, dense_head))
            if guided:
                candidates.append((nothing, self._held_out_head(problem, nothing, train, alpha)))
            for code in np.unique(domain[test]):
                rows = torch.from_numpy(test[domain[test] == code]).to(dataset.X.device)
                losses.append([self._loss_on(h, cols, dataset, rows) for cols, h in candidates])
                kept.append(int(sparse.sum()))
                held_out.append(str(labels[code]) if labels is not None else str(code))
        return decision_evidence(
            np.array(losses),
            held_out,
            sparse_kept_per_fold=kept,
            stable_columns=int((votes > len(cross_fits) / 2).sum()),
            dense_columns=int(dense.sum()),
            sparse_columns=int(gated.sum()),
            compare=compare,
            guided=guided,
        )

    def _held_out_head(self, problem, support, train, alpha):
        """A head on the guidance and ``support``, fitted on the ``train`` rows at L2 weight
        ``alpha`` (``None`` when it has no input at all)."""
        dataset = problem.dataset
        cols = self._head_columns(support, dataset)
        if not len(cols):
            return None
        index = torch.from_numpy(train).to(dataset.X.device)
        head = make_head(len(cols), problem.n_outputs, self.hidden_units)
        return fit_head(
            head.to(dataset.X.device),
            dataset.X[index][:, cols],
            dataset.y[index],
            dataset.domain[index],
            self.n_environments_,
            self._per_sample_loss(),
            alpha=alpha,
        )

    def _loss_on(self, head, support, dataset, rows):
        """Mean loss of ``head`` (reading the guidance and ``support``) on ``rows``."""
        if head is None:
            return np.inf
        inputs = dataset.X[rows][:, self._head_columns(support, dataset)]
        with torch.no_grad():
            return float(self._per_sample_loss()(head(inputs), dataset.y[rows]).mean())

    def _head_fit_args(self):
        """What every full-batch fit of the head is given besides its rows and weight."""
        # Without gates the head is the only place the invariance penalty can act.
        return dict(
            n_domains=self.n_environments_,
            loss_fn=self._per_sample_loss(),
            invariance=self.invariance if self.gate is None else None,
            invariance_weight=self.invariance_weight,
        )

    def _refit(self, problem, net, support, prefit):
        """Step 5: the head of ``net`` on the kept columns ``support``; the L2 weight it was
        fitted with, or ``None`` when the head trained with the gates is final (``refit``).

        Full batch, the weight chosen on held-out rows of every training domain, or, with
        ``alpha="domains"``, on whole held-out training domains (:func:`select_alpha` with
        ``by_domain``). The pre-fit (when scikit-learn fitted it with a weight chosen on
        rows) is the same fit as a row-chosen refit on every column, and is reused when
        every column is kept and the refit's weight is chosen on rows too.
        """
        module = net.module_
        if not self._refits():
            # Predict from the columns transform keeps: the gates of the others close.
            module.fix_support(torch.from_numpy(_gate_values(module) * support))
            return None
        module.fix_support(torch.from_numpy(support.astype(np.float32)))
        by_domain = self._alpha_by_domain()
        if prefit is not None and prefit.reusable and support.all() and not by_domain:
            # The same columns, weight path, folds and fit as the pre-fit's: reused.
            module.head.load_state_dict(prefit.head.state_dict())
            return prefit.alpha
        dataset, fit_args = problem.dataset, self._head_fit_args()
        kept = self._head_columns(support, dataset)
        head = restrict_inputs(module.head, kept)
        inputs = (dataset.X[:, kept], dataset.y, dataset.domain)
        if isinstance(self.alpha, str):
            seed = problem.seed
            alpha = select_alpha(head, *inputs, seed=seed, by_domain=by_domain, **fit_args)[0]
        else:
            alpha = float(self.alpha)
        fit_head(head, *inputs, alpha=alpha, **fit_args)
        expand_inputs(module.head, head, kept)
        return alpha

    def _alpha_by_domain(self):
        """Whether the refit's weight is chosen on whole held-out training domains (step 5):
        with ``alpha="domains"`` and several environments."""
        return self.alpha == "domains" and self.n_environments_ > 1

    def _support_from_gates(self, gates, net=None, *, scores=None):
        """The columns whose gate is above ``threshold`` (at most ``max_features``, by
        score), of the fit's gates (``net`` given: its gate scores break ties, and an
        unguided fit that keeps nothing warns) or of a cross-fit's ``gates`` and ``scores``;
        an unguided selection keeps at least its strongest column."""
        own = net is not None
        if own:
            scores = _gate_scores(net.module_, len(gates))
        if self.max_features is not None and self.max_features > len(gates):
            raise ValueError(
                f"max_features={self.max_features} is larger than the {len(gates)} input columns."
            )
        mask = gates > self.threshold
        if self.max_features is not None and mask.sum() > self.max_features:
            ranked = np.flatnonzero(mask)[np.argsort(-scores[mask], kind="stable")]
            mask = np.zeros_like(mask)
            mask[ranked[: self.max_features]] = True
        if not mask.any() and self.n_guidance_features_:
            # Modality trust: a guided stage whose every gate closed adds nothing, and the
            # head predicts from the guidance (the earlier modalities) alone.
            return mask
        if not mask.any() and own:
            warnings.warn(
                f"No gate of {type(self).__name__} is above threshold={self.threshold}; "
                "keeping the strongest feature. Lower `sparsity` to select more.",
                ClosedGatesWarning,
                stacklevel=5,
            )
        if not mask.any():
            mask[np.argmax(scores)] = True
        return mask

    def _make_net(
        self, n_features, n_outputs, device, feature_sparsity, head_decay, scale=1.0, module=None
    ):
        """The skorch net for this estimator's parameters and the fitted shapes (of a
        ``GatedHead``, or of the given ``module``)."""
        if self.task_ == "classification":
            criterion = torch.nn.CrossEntropyLoss
        else:
            criterion = _REGRESSION_LOSSES[self.regression_loss]
        if module is None:
            module = GatedHead
            shapes = dict(
                module__n_features=n_features,
                module__n_outputs=n_outputs,
                module__n_guidance=self.n_guidance_features_,
                module__gate=self.gate,
                module__gate_noise=self.gate_noise,
                module__hidden_units=self.hidden_units,
            )
        else:
            shapes = {}
        sparsity = None
        if feature_sparsity is not None:
            sparsity = torch.as_tensor(feature_sparsity, dtype=torch.float32).to(device)
        return GatedNet(
            module,
            **shapes,
            criterion=criterion,
            criterion__reduction="none",
            optimizer=_OPTIMIZERS.get(self.optimizer, self.optimizer),
            lr=self.lr,
            **self._param_groups(head_decay),
            **self._fused(device),
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__training=True,
            iterator_train__balance=self.balance_domains and self.n_environments_ > 1,
            train_split=None,
            callbacks=list(self.callbacks or []),
            device=device,
            verbose=self.verbose,
            objective=StageObjective(
                sparsity_weights=sparsity,
                invariance=self.invariance,
                invariance_weight=self.invariance_weight,
                invariance_warmup=self.invariance_warmup,
                redundancy=self.redundancy,
                n_domains=self.n_environments_,
                loss_scale=scale,
            ),
            n_iter_no_change=self.n_iter_no_change,
            threshold=self.threshold,
        )

    def _fused(self, device):
        # torch's fused Adam updates every parameter in one kernel instead of a Python loop
        # over them: the same update, about a third less time per step on small models.
        if self.optimizer in ("adam", "adamw") and device.type in ("cpu", "cuda"):
            return {"optimizer__fused": True}
        return {}

    @staticmethod
    def _param_groups(head_decay):
        # A separate group only when needed: every extra group costs an optimizer pass per step.
        if not head_decay:
            return {}
        return {"optimizer__param_groups": [("head.*", {"weight_decay": head_decay})]}

    def _encode_target(self, y):
        if self.task_ == "classification":
            y, self.classes_ = check_class_labels(y)
            encoder = LabelEncoder().fit(y)
            target = torch.from_numpy(encoder.transform(y).astype(np.int64))
            return target, len(self.classes_)
        y = check_regression_target(y, "InvariantMaskSelector(task='regression')")
        y = y.astype(np.float32)
        self._y_ndim = y.ndim
        y2d = y.reshape(len(y), -1)
        if not np.isfinite(y2d).all():
            raise ValueError("y contains NaN or infinity (or values beyond the float32 range).")
        return torch.from_numpy(y2d.copy()), y2d.shape[1]

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def _outputs(self, X, guidance):
        check_is_fitted(self, "net_")
        X = check_float32_range(validate_data(self, X, dtype=[np.float32, np.float64], reset=False))
        guide = check_guidance(guidance, X.shape[0], n_expected=self.n_guidance_features_)
        dtype = np.float64 if _module_dtype(self.net_.module_) == torch.float64 else np.float32
        inputs = _as_tensor(guide, X, self.net_.device, dtype=dtype)
        outputs, _ = self.net_.forward(ArrayDataset(inputs))
        return outputs

    def predict(self, X, guidance=None):
        """Predict with the head on ``[guidance, gates * X]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input features.
        guidance : array-like of shape (n_samples, n_guidance_features), default=None
            Required when ``fit`` was given guidance.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted labels or values.
        """
        outputs = self._outputs(X, guidance)
        if self.task_ == "classification":
            return self.classes_[outputs.argmax(dim=1).numpy()]
        values = outputs.numpy().astype(np.float64)
        return values.ravel() if self._y_ndim == 1 else values

    @available_if(_could_classify)
    def predict_proba(self, X, guidance=None):
        """Class probabilities of the head (classification only).

        Parameters
        ----------
        X, guidance
            As in :meth:`predict`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        outputs = self._outputs(X, guidance)
        return torch.softmax(outputs, dim=1).numpy().astype(np.float64)

    def score(self, X, y, sample_weight=None, *, guidance=None):
        """Accuracy (classification) or R² (regression) of the head.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input features.
        y : array-like of shape (n_samples,)
            True labels or values.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, as scikit-learn's ``ClassifierMixin.score`` and
            ``RegressorMixin.score`` take them (a Pipeline routes them with metadata
            routing on).
        guidance : array-like, default=None
            Required when ``fit`` was given guidance.

        Returns
        -------
        score : float
            Accuracy or coefficient of determination.
        """
        y_pred = self.predict(X, guidance=guidance)
        if self.task_ == "classification":
            return accuracy_score(y, y_pred, sample_weight=sample_weight)
        return r2_score(y, y_pred, sample_weight=sample_weight)

    def _net_sizes(self, net):
        return {"n_outputs": int(net.module_.head_outputs)}

    def _net_from_state(self, saved, device):
        return self._make_net(self.n_features_in_, saved["n_outputs"], device, None, 0.0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
