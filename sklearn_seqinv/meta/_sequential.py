"""Learning in order: SequentialModalityClassifier and SequentialModalityRegressor."""

import time

import numpy as np
from sklearn.base import (
    ClassifierMixin,
    RegressorMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import _BaseComposition, available_if
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
    validate_data,
)

from .._columns import resolve_columns
from .._docstring import fill_doc
from .._validation import atomic_fit, check_class_labels, check_regression_target
from ..selection._selector import InvariantMaskSelector
from ._stage_cache import fit_stage

__all__ = ["SequentialModalityClassifier", "SequentialModalityRegressor"]


def _final_has(method):
    def check(self):
        final = getattr(self, "final_estimator_", self.final_estimator)
        if final is None:
            return True
        return hasattr(final, method)

    return check


class _BaseSequentialModality(TransformerMixin, _BaseComposition):
    """Fit one selector per modality, in the given order, each guided by the ones before."""

    __metadata_request__fit = {"sample_domain": True, "sample_group": True}

    _parameter_constraints = {
        "modalities": [list],
        "final_estimator": [HasMethods(["fit", "predict"]), None],
        "strategy": [StrOptions({"sequential", "joint", "independent"})],
        "verbose": ["verbose"],
    }

    def __init__(self, modalities, *, final_estimator=None, strategy="sequential", verbose=0):
        self.modalities = modalities
        self.final_estimator = final_estimator
        self.strategy = strategy
        self.verbose = verbose

    @property
    def _modalities(self):
        # Invalid values must not break get_params/set_params; fit reports them.
        try:
            return [(name, selector) for name, selector, _ in self.modalities]
        except (TypeError, ValueError):
            return self.modalities

    @_modalities.setter
    def _modalities(self, value):
        try:
            self.modalities = [
                (name, selector, columns)
                for (name, selector), (_, _, columns) in zip(value, self.modalities)
            ]
        except (TypeError, ValueError):
            self.modalities = value

    def get_params(self, deep=True):
        """Parameters, with each modality's selector reachable as ``<name>__<param>``."""
        return self._get_params("_modalities", deep=deep)

    def set_params(self, **params):
        """Set parameters; ``<name>=estimator`` replaces a modality's selector."""
        self._set_params("_modalities", **params)
        return self

    def get_metadata_routing(self):
        """Route ``sample_domain`` and ``sample_group`` (and other requests) to every selector."""
        router = MetadataRouter(owner=type(self).__name__).add_self_request(self)
        for name, selector, _ in self.modalities:
            router.add(
                **{name: selector}, method_mapping=MethodMapping().add(caller="fit", callee="fit")
            )
        if self.final_estimator is not None:
            router.add(
                final_estimator=self.final_estimator,
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        return router

    def _check_modalities(self):
        if not self.modalities:
            raise ValueError("modalities must list at least one (name, selector, columns).")
        for entry in self.modalities:
            if not (isinstance(entry, tuple) and len(entry) == 3):
                raise ValueError(
                    f"Each entry of modalities must be a (name, selector, columns) tuple; got "
                    f"{entry!r}."
                )
        self._validate_names([name for name, _, _ in self.modalities])
        for name, selector, _ in self.modalities:
            if not hasattr(selector, "fit") or not hasattr(selector, "transform"):
                raise TypeError(f"The selector of modality {name!r} must have fit and transform.")
            if self.strategy == "joint" and not isinstance(selector, InvariantMaskSelector):
                raise TypeError(
                    "strategy='joint' trains one set of gates over all modalities and needs an "
                    f"InvariantMaskSelector for every modality; {name!r} has {selector!r}."
                )

    def _column_groups(self, X_raw):
        names = getattr(self, "feature_names_in_", None)
        groups = []
        for name, _, columns in self.modalities:
            cols = resolve_columns(
                X_raw, columns, self.n_features_in_, names, name=f"modality {name!r}"
            )
            if len(cols) == 0:
                raise ValueError(
                    f"Modality {name!r} selects no column of X (X has {self.n_features_in_} "
                    "feature(s))."
                )
            groups.append(cols)
        _check_disjoint(self.modalities, groups)
        return groups

    def _routed_params(self, metadata):
        metadata = {key: value for key, value in metadata.items() if value is not None}
        if _routing_enabled():
            return process_routing(self, "fit", **metadata)
        params = Bunch(final_estimator=Bunch(fit={}))
        for name, selector, _ in self.modalities:
            fit = {k: v for k, v in metadata.items() if has_fit_parameter(selector, k)}
            params[name] = Bunch(fit=fit)
        return params

    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, sample_domain=None, sample_group=None):
        """Fit the selectors in order, then the final predictor.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            All modalities side by side.
        y : array-like of shape (n_samples,)
            Class labels (classifier) or continuous scores (regressor).
        sample_domain : array-like of shape (n_samples,), default=None
            Domain label of each row, routed to every selector.
        sample_group : array-like of shape (n_samples,), default=None
            Sub-group of each row inside its domain (video, speaker, product), routed to
            every selector: the invariance is then asked across (domain, group) pairs, which
            gives single-source training something to compare.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, {"sample_domain": sample_domain, "sample_group": sample_group})

    def _log(self, message, start):
        if self.verbose:
            print(f"[{type(self).__name__}] {message} ({time.perf_counter() - start:.1f}s)")

    def _fit(self, X, y, metadata):
        self._check_modalities()
        X_raw = X
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
            ensure_all_finite="allow-nan",
            multi_output=True,  # a y of several columns is refused below, by name
        )
        if y.ndim == 2 and y.shape[1] > 1:
            target, wrapper, alone = self._one_target
            raise ValueError(
                f"{type(self).__name__} predicts one {target} per row; got y of shape "
                f"{y.shape}. Fit one per column of y (scikit-learn's {wrapper} does){alone}."
            )
        y = self._check_target(y)
        groups = self._column_groups(X_raw)
        names = [name for name, _, _ in self.modalities]
        reach = self._reach(X, groups, names, self.strategy, self.final_estimator)
        routed = self._routed_params(metadata)
        fitted = []
        start = time.perf_counter()
        self.strategy_ = self.strategy
        if self.strategy == "joint":
            fitted = self._fit_joint(X, y, groups, metadata)
        else:
            guidance = np.empty((X.shape[0], 0), dtype=X.dtype)
            for step, ((name, selector, _), cols) in enumerate(zip(self.modalities, groups)):
                # A stage learns from the rows that have its modality and every earlier one.
                rows = reach[:, step]
                params = _rows_of(dict(routed[name].fit), rows, X.shape[0])
                if self.strategy == "sequential" and guidance.shape[1]:
                    if has_fit_parameter(selector, "guidance"):
                        params["guidance"] = guidance[rows]
                est = fit_stage(selector, X[rows][:, cols], y[rows], params)
                self._check_stage_classes(name, est)
                fitted.append((name, est, cols))
                # Selected columns without calling transform: a stage that kept nothing
                # (modality trust) adds no guidance and raises no empty-selection warning.
                kept = (
                    X[:, cols][:, est.get_support()]
                    if hasattr(est, "get_support")
                    else est.transform(X[:, cols])
                )
                guidance = np.hstack([guidance, kept])
                self._log(f"({step + 1} of {len(groups)}) fitted modality {name!r}", start)
        self.modalities_ = fitted
        self.n_rows_per_stage_ = Bunch(**dict(zip(names, reach.sum(axis=0).tolist())))
        self.named_modalities_ = Bunch(**{name: est for name, est, _ in fitted})
        self.modality_trust_ = Bunch(
            **{name: bool(mask.any()) for (name, _, _), mask in zip(fitted, self._supports())}
        )
        self.final_estimator_ = self._fit_final(X, y, routed, metadata)
        self._log("fitted the final predictor", start)
        return self

    @staticmethod
    def _reach(X, groups, names, strategy, final_estimator):
        """Which stages each row can use: ``(n_samples, n_modalities)`` booleans.

        A modality is missing from a row when all its columns are NaN (a face track with no
        face); the row then reaches the stages before the first modality it lacks. Partial
        NaNs, a missing first modality and missing modalities outside the plain sequential
        strategy are refused.
        """
        present = []
        for name, cols in zip(names, groups):
            nan = np.isnan(X[:, cols])
            missing = nan.all(axis=1)
            partial = nan.any(axis=1) & ~missing
            if partial.any():
                raise ValueError(
                    f"Modality {name!r} is partly NaN in {partial.sum()} row(s) (first: row "
                    f"{np.flatnonzero(partial)[0]}). A missing modality must be NaN in all of "
                    "its columns; impute partial gaps first (e.g. SimpleImputer)."
                )
            present.append(~missing)
        present = np.column_stack(present)
        if not present[:, 0].all():
            raise ValueError(
                f"{(~present[:, 0]).sum()} row(s) lack the first modality {names[0]!r} (all "
                f"NaN; first: row {np.flatnonzero(~present[:, 0])[0]}). Every prediction "
                "starts from the first modality: drop or impute those rows."
            )
        if not present.all() and (strategy != "sequential" or final_estimator is not None):
            raise ValueError(
                "Rows with a missing modality (all NaN) are handled by strategy='sequential' "
                f"without final_estimator; this estimator has strategy={strategy!r} and "
                f"final_estimator={final_estimator!r}. Drop or impute those rows."
            )
        return np.cumprod(present, axis=1).astype(bool)

    def _check_stage_classes(self, name, est):
        classes = getattr(est, "classes_", None)
        if hasattr(self, "classes_") and classes is not None:
            if not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"The rows that have modality {name!r} hold classes {list(classes)} but "
                    f"y has {list(self.classes_)}; each stage needs every class."
                )

    def _fit_joint(self, X, y, groups, metadata):
        # One gate vector over all modalities; each column keeps its own modality's sparsity
        # through the selector's per-column ``sparsity``.
        cols = np.concatenate(groups)
        weights = np.concatenate(
            [
                np.broadcast_to(np.asarray(sel.sparsity, dtype=np.float64), (len(g),))
                for (_, sel, _), g in zip(self.modalities, groups)
            ]
        )
        joint = clone(self.modalities[-1][1]).set_params(sparsity=weights.tolist())
        joint.fit(X[:, cols], y, **metadata)
        self.joint_selector_ = joint
        return [(name, joint, g) for (name, _, _), g in zip(self.modalities, groups)]

    def _fit_final(self, X, y, routed, metadata):
        if self.final_estimator is not None:
            return clone(self.final_estimator).fit(
                self._selected(X), y, **routed["final_estimator"].fit
            )
        if self.strategy == "independent":
            head = clone(self.modalities[-1][1])
            if not isinstance(head, InvariantMaskSelector):
                raise TypeError(
                    "strategy='independent' without final_estimator trains an "
                    "InvariantMaskSelector head (gate=None) on the selected features; give "
                    "final_estimator= when the last selector is another estimator."
                )
            head.set_params(gate=None)
            return head.fit(self._selected(X), y, **metadata)
        last = self.modalities_[-1][1]
        if not hasattr(last, "predict"):
            raise TypeError(
                f"The last modality's selector {last!r} cannot predict; give final_estimator=."
            )
        return None

    def _per_modality(self, values):
        """Split one array over the joint gate vector into one array per modality."""
        sizes = np.cumsum([len(cols) for _, _, cols in self.modalities_])[:-1]
        return np.split(values, sizes)

    def _supports(self):
        if self.strategy_ == "joint":
            return self._per_modality(self.joint_selector_.get_support())
        return [est.get_support() for _, est, _ in self.modalities_]

    @property
    def selection_(self):
        """Per modality, a Bunch of ``gates`` (value per column), ``support`` (kept columns,
        bool) and ``columns`` (their indices in ``X``), whatever the strategy."""
        check_is_fitted(self, "modalities_")
        if self.strategy_ == "joint":
            gates = self._per_modality(self.joint_selector_.gates_)
        else:
            gates = [est.gates_ for _, est, _ in self.modalities_]
        return Bunch(
            **{
                name: Bunch(gates=g, support=s, columns=cols)
                for (name, _, cols), g, s in zip(self.modalities_, gates, self._supports())
            }
        )

    def _selected(self, X, n_modalities=None):
        pairs = list(zip(self.modalities_, self._supports()))[:n_modalities]
        return np.hstack([X[:, cols[mask]] for (_, _, cols), mask in pairs])

    def _validate_X(self, X):
        check_is_fitted(self, "modalities_")
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], reset=False, ensure_all_finite="allow-nan"
        )
        names = [name for name, _, _ in self.modalities_]
        groups = [cols for _, _, cols in self.modalities_]
        final = getattr(self, "final_estimator_", None)
        return X, self._reach(X, groups, names, self.strategy_, final)

    def _final_outputs(self, X, method):
        X, reach = self._validate_X(X)
        if self.final_estimator_ is not None:
            return getattr(self.final_estimator_, method)(self._selected(X))
        if self.strategy_ == "joint":
            cols = np.concatenate([cols for _, _, cols in self.modalities_])
            return getattr(self.joint_selector_, method)(X[:, cols])
        # Sequential: each row is predicted by the last stage it has every modality of.
        depth = reach.sum(axis=1)
        if (depth == len(self.modalities_)).all():
            return self._stage_outputs(X, len(self.modalities_), method)
        parts = {k: self._stage_outputs(X[depth == k], k, method) for k in np.unique(depth)}
        first = next(iter(parts.values()))
        out = np.empty((X.shape[0], *first.shape[1:]), dtype=first.dtype)
        for k, values in parts.items():
            out[depth == k] = values
        return out

    def _stage_outputs(self, X, n_stages, method):
        """Outputs of stage ``n_stages`` (1-based), guided by the stages before it."""
        _, est, cols = self.modalities_[n_stages - 1]
        guidance = self._selected(X, n_modalities=n_stages - 1) if n_stages > 1 else None
        return getattr(est, method)(X[:, cols], guidance=guidance)

    def predict(self, X):
        """Predict with the last stage's head, or with ``final_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            All modalities side by side, as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels or scores.
        """
        return self._final_outputs(X, "predict")

    def transform(self, X):
        """The selected columns of every modality, side by side, in modality order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            All modalities side by side.

        Returns
        -------
        X_selected : ndarray of shape (n_samples, n_selected)
            Selected features; names from :meth:`get_feature_names_out`.
        """
        X, _ = self._validate_X(X)
        return self._selected(X)

    def get_feature_names_out(self, input_features=None):
        """Names ``<modality>__<column>`` of the selected columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored beyond validation; names come from ``feature_names_in_`` or ``x<i>``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self, "modalities_")
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = np.array([f"x{i}" for i in range(self.n_features_in_)], dtype=object)
        selected = zip(self.modalities_, self._supports())
        return np.asarray(
            [f"{name}__{names[col]}" for (name, _, cols), mask in selected for col in cols[mask]],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _check_disjoint(modalities, groups):
    """Refuse modalities that share a column: a column belongs to one modality, or its
    selection and its guidance would count it twice."""
    for i, ((first, _, _), a) in enumerate(zip(modalities, groups)):
        for (second, _, _), b in zip(modalities[i + 1 :], groups[i + 1 :]):
            shared = np.intersect1d(a, b)
            if len(shared):
                raise ValueError(
                    f"Modalities {first!r} and {second!r} share {len(shared)} column(s) of X "
                    f"(indices {shared[:5].tolist()}{', ...' if len(shared) > 5 else ''}); "
                    "each column must belong to one modality."
                )


def _rows_of(params, rows, n_samples):
    """``params`` restricted to ``rows`` where a value has one entry per sample."""
    if rows.all():
        return params
    return {
        key: np.asarray(value)[rows] if np.ndim(value) >= 1 and len(value) == n_samples else value
        for key, value in params.items()
    }


_SHARED_PARAMETERS = """
    Parameters
    ----------
    modalities : list of (str, estimator, columns) tuples
        The learning order. ``columns`` may be a slice, integer indices, a boolean mask,
        DataFrame column names or a callable such as
        :func:`~sklearn.compose.make_column_selector`. Each selector is usually an
        :class:`InvariantMaskSelector`; any scikit-learn selector works with
        ``strategy="independent"`` and a ``final_estimator``.
    final_estimator : estimator or None, default=None
        ``None`` predicts with the last stage's head on ``[guidance, gates * x_last]``; an
        estimator is fitted on the concatenated selected features instead.
    strategy : {"sequential", "joint", "independent"}, default="sequential"
        ``"sequential"``: each modality is fitted with the selected features of the earlier
        ones as guidance (reverse the list for video-first). ``"joint"``: one gate vector and
        one head over all modalities at once (the last selector's settings; each column keeps
        its own modality's sparsity weight, which is width-free already). ``"independent"``:
        no guidance; without a ``final_estimator`` a head (the last selector with
        ``gate=None``) is fitted on the selected features. The other ablations are selector
        parameters: ``invariance=None`` (ERM) and ``sparsity=0``.
    verbose : int, default=0
        Print a line per fitted modality.

    Attributes
    ----------
    strategy_ : str
        The strategy the estimator was fitted with (predictions follow it even if
        ``strategy`` is changed afterwards).
    modalities_ : list of (str, fitted estimator, ndarray) tuples
        Fitted selector and column indices of each modality (with ``strategy="joint"`` all
        entries share ``joint_selector_``).
    named_modalities_ : Bunch
        Fitted selectors by modality name.
    selection_ : Bunch
        Modality name -> Bunch of ``gates``, ``support`` and ``columns`` (the fitted
        selection, for plots and reports).
    n_rows_per_stage_ : Bunch
        Modality name -> rows its stage was fitted on (fewer than ``X`` has where that
        modality, or an earlier one, is missing: all NaN).
    modality_trust_ : Bunch
        Modality name -> whether it kept any column. ``False`` for a later modality none of
        whose columns passed as invariant: that stage adds nothing, and prediction falls back
        on the earlier modalities.
    final_estimator_ : estimator or None
        The fitted final estimator or head; ``None`` when the last stage predicts.
    %(features_in)s
"""


@fill_doc
class SequentialModalityClassifier(ClassifierMixin, _BaseSequentialModality):
    __doc__ = (
        """Select invariant features modality by modality, in order, then classify.

    Text first, then video guided by the selected text features (Zhao et al., ACM MM 2024):
    the video selector only keeps what the text selection lacks and drops spurious,
    domain-specific video features.
"""
        + _SHARED_PARAMETERS
        + """    classes_ : ndarray
        Class labels.

    Examples
    --------
    >>> from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier
    >>> from sklearn_seqinv.datasets import make_multimodal_domains
    >>> data = make_multimodal_domains(n_samples=300, random_state=0)
    >>> selector = InvariantMaskSelector(max_epochs=20, random_state=0)
    >>> clf = SequentialModalityClassifier([
    ...     ("text", selector, data.modalities["text"]),
    ...     ("video", selector, data.modalities["video"]),
    ... ])
    >>> clf.fit(data.X, data.y, sample_domain=data.sample_domain).predict(data.X).shape
    (300,)
    """
    )

    #: What one row's target is, the scikit-learn wrapper that fits one per column of y, and
    #: what else takes several columns (the message of a y with several).
    _one_target = ("label", "MultiOutputClassifier", "")

    def _check_target(self, y):
        y, self.classes_ = check_class_labels(y)
        return y

    @available_if(_final_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the final predictor.

        Parameters
        ----------
        X
            As in :meth:`predict`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._final_outputs(X, "predict_proba")


@fill_doc
class SequentialModalityRegressor(RegressorMixin, _BaseSequentialModality):
    __doc__ = (
        """Select invariant features modality by modality, in order, then regress.

    The twin of :class:`SequentialModalityClassifier` for continuous sentiment scores (MOSI
    and MOSEI labels in ``[-3, 3]``); the selectors train with a squared or absolute error.
"""
        + _SHARED_PARAMETERS
        + """
    Examples
    --------
    >>> from sklearn_seqinv import InvariantMaskSelector, SequentialModalityRegressor
    >>> from sklearn_seqinv.datasets import make_multimodal_domains
    >>> data = make_multimodal_domains(n_samples=300, task="regression", random_state=0)
    >>> selector = InvariantMaskSelector(max_epochs=20, random_state=0)
    >>> reg = SequentialModalityRegressor([
    ...     ("text", selector, data.modalities["text"]),
    ...     ("video", selector, data.modalities["video"]),
    ... ])
    >>> reg.fit(data.X, data.y, sample_domain=data.sample_domain).predict(data.X).shape
    (300,)
    """
    )

    _one_target = (
        "score",
        "MultiOutputRegressor",
        ", or an InvariantMaskSelector, which regresses several scores at once",
    )

    def _check_target(self, y):
        return check_regression_target(column_or_1d(y, warn=True), type(self).__name__)
