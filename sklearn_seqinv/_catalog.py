"""The method catalog of the DG protocol: the estimators it compares and their grids."""

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ._selector import InvariantMaskSelector
from ._sequential import SequentialModalityClassifier, SequentialModalityRegressor
from .model_selection import TrainingDomainHoldout

__all__ = [
    "CORAL_HIDDEN_UNITS",
    "LINEAR_C_GRID",
    "distinct_methods",
    "make_methods",
    "selection_grid",
    "tuned_linear",
]


#: Hidden width of the ERM + CORAL baseline's head (the representation CORAL matches).
CORAL_HIDDEN_UNITS = 16


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
        gates and their tie-invariance test in every candidate: training-domain validation
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


def make_methods(modalities, task, *, max_epochs=100, random_state=0):
    """The estimators the protocol compares, by name (see :data:`METHODS`).

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
        "no selection"), ERM + IRM / V-REx their penalty weight, ``linear_tuned`` and
        ``text_linear`` (the first modality's columns only) the ``C`` of a
        ``LogisticRegression`` (``alpha`` of a ``Ridge``); ERM and ``linear`` (scikit-learn's
        defaults) have nothing to select.
    """
    meta = SequentialModalityClassifier if task == "classification" else SequentialModalityRegressor

    def selector(**params):
        return InvariantMaskSelector(
            task=task, max_epochs=max_epochs, random_state=random_state, **params
        )

    order = list(modalities)
    steps = [(name, selector(), modalities[name]) for name in order]
    grid = selection_grid(meta(steps))
    reordered = _video_first(steps)
    head = dict(gate=None, task=task, max_epochs=max_epochs, random_state=random_state)
    # The penalty weight of the ungated baselines is model-selected too, as DomainBed does.
    penalty_grid = {"invariance_weight": [1.0, 10.0, 100.0]}
    linear, linear_grid = _linear(task)
    tuned = Pipeline([("scale", StandardScaler()), ("model", linear)])
    first = modalities[order[0]]
    text_only = Pipeline(
        [
            ("columns", ColumnTransformer([("text", "passthrough", first)])),
            ("scale", StandardScaler()),
            ("model", clone(linear)),
        ]
    )
    return {
        "text_first": (meta(steps), grid),
        # Each order searches its own grid: "no selection" ungates the modality it fits
        # first, so the ablation differs from the method in its order alone.
        "video_first": (meta(reordered), selection_grid(meta(reordered))),
        "joint": (meta(steps, strategy="joint"), grid),
        "independent": (meta(steps, strategy="independent"), grid),
        "erm": (InvariantMaskSelector(invariance=None, **head), None),
        "erm_irm": (InvariantMaskSelector(invariance="irm", **head), penalty_grid),
        "erm_vrex": (InvariantMaskSelector(invariance="vrex", **head), penalty_grid),
        # CORAL matches the moments of a representation: a hidden layer (DomainBed's
        # featurizer), since an ungated linear head reads the fixed inputs.
        "erm_coral": (
            InvariantMaskSelector(invariance="coral", hidden_units=CORAL_HIDDEN_UNITS, **head),
            {"invariance_weight": [0.1, 1.0, 10.0]},
        ),
        "linear": (make_pipeline(StandardScaler(), clone(linear)), None),
        "linear_tuned": (tuned, linear_grid),
        "text_linear": (text_only, linear_grid),
    }


#: Methods that differ from ``text_first`` only in the order or the grouping of their
#: modalities: with one modality they are the same fit.
_ORDER_VARIANTS = ("video_first", "joint", "independent")


def distinct_methods(names, modalities):
    """``names`` without the methods that one modality makes the same fit as another listed
    one (the order variants are ``text_first``; ``text_linear`` is ``linear_tuned``), and
    why each left out one was left out."""
    if len(modalities) > 1:
        return names, {}
    skipped = {}
    if "text_first" in names:
        why = (
            "with one modality the order and the grouping of the modalities cannot differ: "
            "it is the text_first fit, not fitted twice"
        )
        skipped.update({name: why for name in names if name in _ORDER_VARIANTS})
    if "text_linear" in names and "linear_tuned" in names:
        skipped["text_linear"] = (
            "with one modality its columns are every column: it is the linear_tuned fit, "
            "not fitted twice"
        )
    return [name for name in names if name not in skipped], skipped
