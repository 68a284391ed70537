"""InvariantMaskSelector: sparse, domain-invariant feature selection with learnable gates."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._net import ArrayDataset, GatedNet
from ._validation import (
    atomic_fit,
    check_device,
    check_float32_range,
    check_guidance,
    check_sample_domain,
    draw_seed,
    seeded_torch,
)
from .nn.heads import GatedHead

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


def _as_tensor(guidance, X, device):
    """``[guidance, X]`` as one float32 tensor, copying X only when it must."""
    if guidance.shape[1]:
        inputs = np.hstack([guidance, X]).astype(np.float32, copy=False)
    else:
        inputs = np.asarray(X, dtype=np.float32)
    if not (inputs.flags.writeable and inputs.flags.c_contiguous):
        inputs = np.ascontiguousarray(inputs).copy()
    return torch.from_numpy(inputs).to(device)


def _could_classify(estimator):
    if hasattr(estimator, "task_"):
        return estimator.task_ == "classification"
    return estimator.task != "regression"


class InvariantMaskSelector(SelectorMixin, BaseEstimator):
    """Select sparse, domain-invariant features with learnable stochastic gates.

    Each column of ``X`` gets a gate ``z_j`` in ``[0, 1]`` (METHOD.md): stochastic during
    training, deterministic at inference. A small head predicts ``y`` from ``[guidance, z * X]``
    and is trained on the mean per-domain risk plus an invariance penalty across domains
    (V-REx or IRMv1) plus ``sparsity`` times the expected fraction of open gates. Columns whose
    deterministic gate exceeds ``threshold`` are selected. The estimator holds the fitted skorch
    net as ``net_``.

    Parameters
    ----------
    sparsity : float, default=0.5
        Weight of the expected-L0 term ``mean_j P(z_j > 0)``; the parameter to grid-search.
        Larger values select fewer features. Keeping every gate open costs ``sparsity`` in
        loss units, so 0.5 (close to the cross-entropy of a coin flip) asks each of ``d``
        columns to earn about ``0.5 / d`` of risk. Because the term is a mean over the
        columns, wide inputs (hundreds of columns) need a larger value and more epochs.
    invariance : {"vrex", "irm"} or None, default="vrex"
        Penalty over the per-domain risks; ``None`` trains plain (sparse) ERM. It is zero when
        fewer than two domains are present.
    invariance_weight : float, default=100.0
        Weight of the invariance penalty after warm-up, inside DomainBed's V-REx search range
        (1 to 1e5): large enough that a feature whose tie to ``y`` changes in strength across
        the training domains costs more in risk variance than it gains in mean risk on
        standardized data (30 still kept such columns on generated data), small enough that the
        invariant columns keep their gates (300 began to close them).
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
        Training epochs.
    batch_size : int, default=128
        Training and inference batch size.
    lr : float, default=0.03
        Learning rate; with Adam a gate moves at most about ``lr`` per step, and a gate must
        travel about 1 to close, so 0.03 closes useless gates within the first few hundred
        steps while the head stays stable.
    weight_decay : float, default=0.0
        L2 weight decay of the head (never of the gates).
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimizer of the gates and the head.
    device : str, default="cpu"
        Torch device to train on.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (e.g. ``skorch.callbacks.EarlyStopping``).
    verbose : int, default=0
        ``1`` prints skorch's epoch log with the task, invariance and sparsity terms.
    random_state : int, RandomState instance or None, default=None
        Seeds the gate noise, initialization and batch order; the caller's global torch and
        numpy generators are left untouched.

    Attributes
    ----------
    gates_ : ndarray of shape (n_features_in_,)
        Deterministic gate per input column, in ``[0, 1]``.
    net_ : GatedNet
        The fitted skorch net.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``task_loss``, ``invariance_penalty``, ``sparsity_penalty``.
    task_ : str
        ``"classification"`` or ``"regression"``.
    classes_ : ndarray
        Class labels (classification only).
    domains_ : ndarray
        Domain labels seen in ``fit``.
    n_guidance_features_ : int
        Number of guidance columns seen in ``fit``.
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

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

    __metadata_request__fit = {"sample_domain": True}

    _parameter_constraints = {
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "invariance": [StrOptions({"vrex", "irm"}), None],
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
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), callable],
        "device": [str],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        sparsity=0.5,
        *,
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
        batch_size=128,
        lr=0.03,
        weight_decay=0.0,
        optimizer="adam",
        device="cpu",
        callbacks=None,
        verbose=0,
        random_state=None,
    ):
        self.sparsity = sparsity
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
    def fit(self, X, y, *, sample_domain=None, guidance=None):
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
        guidance : array-like of shape (n_samples, n_guidance), default=None
            Already-selected features of earlier modalities, fed to the head and never gated.

        Returns
        -------
        self : InvariantMaskSelector
            The fitted selector.
        """
        return self._fit(X, y, sample_domain=sample_domain, guidance=guidance)

    def _fit(self, X, y, *, sample_domain=None, guidance=None, feature_sparsity=None):
        # ``feature_sparsity`` (one weight per column) lets a joint fit over several
        # modalities normalize each modality's sparsity term by its own width.
        X, y = validate_data(
            self, X, y, dtype=[np.float32, np.float64], multi_output=True, ensure_min_samples=2
        )
        check_float32_range(X)
        domain, self.domains_ = check_sample_domain(sample_domain, X.shape[0])
        guide = check_guidance(guidance, X.shape[0])
        self.n_guidance_features_ = guide.shape[1]
        self.task_ = _resolve_task(self.task, y)
        target, n_outputs = self._encode_target(y)
        device = check_device(self.device)

        if feature_sparsity is None:
            feature_sparsity = np.full(X.shape[1], self.sparsity / X.shape[1])
        dataset = ArrayDataset(
            _as_tensor(guide, X, device),
            target.to(device),
            torch.from_numpy(domain).to(device),
        )
        self.net_ = self._make_net(X.shape[1], n_outputs, device, feature_sparsity)
        with seeded_torch(draw_seed(self.random_state), device):
            self.net_.fit(dataset, None)
        self.history_ = self.net_.history
        with torch.no_grad():
            self.gates_ = self.net_.module_.gate_values().detach().cpu().double().numpy()
        if not (self.gates_ > self.threshold).any():
            warnings.warn(
                f"No gate of {type(self).__name__} is above threshold={self.threshold}; "
                "keeping the strongest feature. Lower `sparsity` to select more.",
                UserWarning,
                stacklevel=2,
            )
        return self

    def _make_net(self, n_features, n_outputs, device, feature_sparsity):
        """The skorch net for this estimator's parameters and the fitted shapes."""
        if self.task_ == "classification":
            criterion = torch.nn.CrossEntropyLoss
        else:
            criterion = _REGRESSION_LOSSES[self.regression_loss]
        return GatedNet(
            GatedHead,
            module__n_features=n_features,
            module__n_outputs=n_outputs,
            module__n_guidance=self.n_guidance_features_,
            module__gate=self.gate,
            module__gate_noise=self.gate_noise,
            module__hidden_units=self.hidden_units,
            criterion=criterion,
            criterion__reduction="none",
            optimizer=_OPTIMIZERS.get(self.optimizer, self.optimizer),
            lr=self.lr,
            **self._param_groups(),
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None,
            callbacks=list(self.callbacks or []),
            device=device,
            verbose=self.verbose,
            sparsity_weights=torch.as_tensor(feature_sparsity, dtype=torch.float32).to(device),
            invariance=self.invariance,
            invariance_weight=self.invariance_weight,
            invariance_warmup=self.invariance_warmup,
            redundancy=self.redundancy,
            n_domains=len(self.domains_),
            balance_domains=self.balance_domains,
        )

    def _param_groups(self):
        # A separate group only when needed: every extra group costs an optimizer pass per step.
        if self.weight_decay == 0:
            return {}
        return {"optimizer__param_groups": [("head.*", {"weight_decay": self.weight_decay})]}

    def _encode_target(self, y):
        if self.task_ == "classification":
            y = column_or_1d(y, warn=True)
            check_classification_targets(y)
            encoder = LabelEncoder().fit(y)
            self.classes_ = encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"Classification needs samples of at least 2 classes; got 1 class "
                    f"({self.classes_[0]!r})."
                )
            target = torch.from_numpy(encoder.transform(y).astype(np.int64))
            return target, len(self.classes_)
        y = np.asarray(y, dtype=np.float32)
        self._y_ndim = y.ndim
        y2d = y.reshape(len(y), -1)
        if not np.isfinite(y2d).all():
            raise ValueError("y contains NaN or infinity (or values beyond the float32 range).")
        return torch.from_numpy(y2d.copy()), y2d.shape[1]

    def _get_support_mask(self):
        check_is_fitted(self, "gates_")
        gates = self.gates_
        if self.max_features is not None and self.max_features > len(gates):
            raise ValueError(
                f"max_features={self.max_features} is larger than the {len(gates)} input columns."
            )
        mask = gates > self.threshold
        scores = self._gate_scores()
        if self.max_features is not None and mask.sum() > self.max_features:
            ranked = np.flatnonzero(mask)[np.argsort(-scores[mask], kind="stable")]
            mask = np.zeros_like(mask)
            mask[ranked[: self.max_features]] = True
        if not mask.any():
            mask[np.argmax(scores)] = True
        return mask

    def _gate_scores(self):
        # Unclamped gate parameters break ties among gates clamped at 1.
        gate = self.net_.module_.gate
        if gate is None:
            return np.ones(self.n_features_in_)
        raw = gate.mu if hasattr(gate, "mu") else gate.log_alpha
        return raw.detach().cpu().double().numpy()

    def _outputs(self, X, guidance):
        check_is_fitted(self, "net_")
        X = check_float32_range(validate_data(self, X, dtype=[np.float32, np.float64], reset=False))
        guide = check_guidance(guidance, X.shape[0], n_expected=self.n_guidance_features_)
        outputs, _ = self.net_.forward(ArrayDataset(_as_tensor(guide, X, self.net_.device)))
        return outputs

    def predict(self, X, guidance=None):
        """Predict with the head on ``[guidance, gates * X]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Input features.
        guidance : array-like of shape (n_samples, n_guidance_features_), default=None
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
        X : array-like of shape (n_samples, n_features_in_)
            Input features.
        guidance : array-like of shape (n_samples, n_guidance_features_), default=None
            Required when ``fit`` was given guidance.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        outputs = self._outputs(X, guidance)
        return torch.softmax(outputs, dim=1).numpy().astype(np.float64)

    def score(self, X, y, guidance=None):
        """Accuracy (classification) or R² (regression) of the head.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Input features.
        y : array-like of shape (n_samples,)
            True labels or values.
        guidance : array-like, default=None
            Required when ``fit`` was given guidance.

        Returns
        -------
        score : float
            Accuracy or coefficient of determination.
        """
        y_pred = self.predict(X, guidance=guidance)
        if self.task_ == "classification":
            return accuracy_score(y, y_pred)
        return r2_score(y, y_pred)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
