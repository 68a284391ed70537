"""The method catalog of the DG protocol: the estimators it compares and their grids."""

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..meta._sequential import SequentialModalityClassifier, SequentialModalityRegressor
from ..model_selection import TrainingDomainHoldout
from ..selection._selector import InvariantMaskSelector
from ._methods import CORAL_HIDDEN_UNITS, registry

__all__ = [
    "CORAL_HIDDEN_UNITS",
    "LINEAR_C_GRID",
    "distinct_methods",
    "linear_method",
    "make_methods",
    "selection_grid",
    "sequential_method",
    "tuned_linear",
    "ungated_head",
]


#: The regularization strengths ``C`` searched for the tuned linear baselines.
LINEAR_C_GRID = tuple(float(c) for c in np.logspace(-4, 1, 11))


def tuned_linear(task, *, random_state=0):
    """The strongest simple baseline: a linear model tuned on the training domains.

    ``StandardScaler`` then ``LogisticRegression`` (``C`` in :data:`LINEAR_C_GRID`) or
    ``Ridge`` (``alpha = 1 / C``), searched by ``GridSearchCV`` on
    :class:`~sklearn_seqinv.model_selection.TrainingDomainHoldout`; fit it with
    ``groups=sample_domain``.

    Examples
    --------
    >>> type(tuned_linear("classification").cv).__name__
    'TrainingDomainHoldout'
    """
    model, grid = _linear(task)
    pipe = Pipeline([("scale", StandardScaler()), ("model", model)])
    return GridSearchCV(pipe, grid, cv=TrainingDomainHoldout(random_state=random_state))


def _linear(task):
    """The linear model of ``task`` and its grid over the regularization strength."""
    if task == "classification":
        return LogisticRegression(max_iter=2000), {"model__C": list(LINEAR_C_GRID)}
    return Ridge(), {"model__alpha": [1.0 / c for c in LINEAR_C_GRID]}


def selection_grid(modality_names, sparsities=(4.0,), *, estimator=None):
    """Parameter grid of a sequential meta-estimator with the ERM fallbacks built in.

    Parameters
    ----------
    modality_names : list of str or sequential meta-estimator
        The modalities (the meta-estimator's step names), in learning order, or the
        meta-estimator itself (its modalities are read).
    sparsities : tuple of float, default=(4.0,)
        Sparsity weights to try (the same for every modality; the weight is width-free).
    estimator : SequentialModalityClassifier, SequentialModalityRegressor or None, \
            default=None
        The meta-estimator the grid is for: every name must be one of its modalities, or
        a ``ValueError`` names the unknown ones (without it, a misspelt name fails only
        when the search sets the parameter).

    Returns
    -------
    grid : list of dict
        For each sparsity the method as configured; then "no penalty" (``invariance=None``
        everywhere: sparse ERM gates) and "no selection" (``gate=None`` for the first
        modality: its ungated head, as a tuned linear model). Later modalities keep their
        gates and their tie test in every candidate: training-domain validation
        prefers a spurious column whose tie keeps its sign across the training domains, so
        a candidate without the test would win the search and bring it back.

    Examples
    --------
    >>> for candidate in selection_grid(["text", "video"]):
    ...     print(sorted(candidate))
    ['text__sparsity', 'video__sparsity']
    ['text__invariance', 'video__invariance']
    ['text__gate']
    """
    if hasattr(modality_names, "modalities"):
        estimator, modality_names = modality_names, None
    known = None if estimator is None else [name for name, _, _ in estimator.modalities]
    names = list(known if modality_names is None else modality_names)
    if not names or not all(isinstance(name, str) for name in names):
        raise ValueError(f"modality_names must be a non-empty list of str; got {names!r}.")
    if len(set(names)) < len(names):
        raise ValueError(f"modality_names repeats a name: {names!r}.")
    unknown = [name for name in names if known is not None and name not in known]
    if unknown:
        raise ValueError(
            f"selection_grid got modalities {unknown} that {type(estimator).__name__} does "
            f"not have; its modalities are {known}."
        )
    grid = [{f"{name}__sparsity": [float(s)] for name in names} for s in sparsities]
    grid.append({f"{name}__invariance": [None] for name in names})
    grid.append({f"{names[0]}__gate": [None]})
    return grid


def _video_first(steps):
    """The ablation's order: the video modality first, then the others in their order.

    Without a modality named "video", the second modality moves to the front (the first
    one after the text).
    """
    names = [name for name, _, _ in steps]
    lead = names.index("video") if "video" in names else min(1, len(names) - 1)
    return [steps[lead]] + [step for i, step in enumerate(steps) if i != lead]


def sequential_method(modalities, task, max_epochs, random_state, *, strategy=None, order="given"):
    """A sequential meta-estimator with a default selector per modality: in the given order
    (the text first) or ``order="video_first"``, with ``strategy`` (``None``: sequential)."""
    meta = SequentialModalityClassifier if task == "classification" else SequentialModalityRegressor
    steps = [
        (
            name,
            InvariantMaskSelector(task=task, max_epochs=max_epochs, random_state=random_state),
            columns,
        )
        for name, columns in modalities.items()
    ]
    if order == "video_first":
        steps = _video_first(steps)
    return meta(steps) if strategy is None else meta(steps, strategy=strategy)


def ungated_head(task, max_epochs, random_state, **params):
    """An ungated ``InvariantMaskSelector`` head: ERM, or ERM with the ``invariance`` penalty
    or the ``hidden_units`` that ``params`` set."""
    return InvariantMaskSelector(
        gate=None, task=task, max_epochs=max_epochs, random_state=random_state, **params
    )


def linear_method(modalities, task, kind):
    """A scikit-learn linear model and its grid: ``"default"`` (no grid), ``"tuned"`` (its
    L2 weight searched) or ``"text"`` (tuned, on the first modality's columns only)."""
    linear, grid = _linear(task)
    if kind == "default":
        return make_pipeline(StandardScaler(), linear), None
    if kind == "tuned":
        return Pipeline([("scale", StandardScaler()), ("model", linear)]), grid
    first = next(iter(modalities.values()))
    text_only = Pipeline(
        [
            ("columns", ColumnTransformer([("text", "passthrough", first)])),
            ("scale", StandardScaler()),
            ("model", linear),
        ]
    )
    return text_only, grid


def make_methods(modalities, task, *, max_epochs=100, random_state=0):
    """The estimators the protocol compares, by name: every registered method
    (:func:`~sklearn_seqinv.evaluation._methods.registry`) built for these modalities.

    Parameters
    ----------
    modalities : dict of str to array of int
        Modality name -> its columns, in learning order (the first is the text).
    task : {"classification", "regression"}
        Learning task.
    max_epochs : int, default=100
        Epochs of every torch model.
    random_state : int, default=0
        Seed of every model.

    Returns
    -------
    methods : dict of str to (estimator, param_grid or None)
        The selection methods search :func:`selection_grid` (the method, "no penalty" and
        "no selection"), ERM + IRM / V-REx / CORAL their penalty weight, ``linear_tuned`` and
        ``text_linear`` (the first modality's columns only) the ``C`` of a
        ``LogisticRegression`` (``alpha`` of a ``Ridge``); ERM and ``linear`` (scikit-learn's
        defaults) have nothing to select.
    """
    return {
        name: method.build(modalities, task, max_epochs, random_state)
        for name, method in registry().items()
    }


def distinct_methods(names, modalities):
    """``names`` without the methods that one modality makes the same fit as another listed
    one (:attr:`~sklearn_seqinv.evaluation.Method.same_with_one_modality`: the order variants
    are ``text_first``; ``text_linear`` is ``linear_tuned``), and why each left out one was
    left out."""
    if len(modalities) > 1:
        return names, {}
    known, skipped = registry(), {}
    for name in names:
        same = getattr(known.get(name), "same_with_one_modality", None)
        if same is None or same not in names:
            continue
        why = (
            f"with one modality {known[name].why_the_same}: it is the {same} fit, not fitted twice"
        )
        skipped[name] = why
    return [name for name in names if name not in skipped], skipped
