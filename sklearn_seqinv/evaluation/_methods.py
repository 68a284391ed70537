"""The registry of the methods the DG protocol compares: one entry per method, holding what it
is, how to build it, what it costs and which fits it shares. Adding a method is one
:func:`register_method` call (or one entry below).

Nothing here imports torch: the command line's help reads the names and descriptions. The
builders import the estimators when they are called.
"""

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "CONTEXT_SUFFIX",
    "METHODS",
    "METHOD_DESCRIPTIONS",
    "Method",
    "base_method",
    "method_complexity",
    "register_method",
    "registry",
]


@dataclass(frozen=True)
class Method:
    """One method of the protocol.

    Parameters
    ----------
    description : str
        One line of what it is (the command line's help, the docs).
    build : callable
        ``build(modalities, task, max_epochs, random_state)`` -> ``(estimator, grid or None)``:
        a fresh estimator and the parameter grid its ``GridSearchCV`` searches.
    complexity : int
        How much it chooses from the training data beyond a linear model's coefficients: 0
        nothing (scikit-learn's defaults), 1 one L2 weight, 2 a penalty weight as well, 3
        gates, a tie test or a hidden layer. When validation cannot tell methods apart, the
        recommendation takes the simplest (:func:`~sklearn_seqinv.evaluation._aggregate.recommend`).
    cost : float, default=0.2
        Rough cost of a fit, relative to the others, per training domain: the protocol
        starts the longest fits first.
    shares_stages : bool, default=False
        Fitted in one batch with the other methods that share stages on a split (text-first's
        text stage is independent's, video-first's video stage too): the same stage is fitted
        once (:func:`~sklearn_seqinv.meta._stage_cache.shared_stage_fits`).
    same_with_one_modality : str or None, default=None
        The method it is the same fit as when the data has one modality (the order variants
        are text-first; the text-only linear model is the tuned one): not fitted twice.
    why_the_same : str, default=""
        Why, for the report ("with one modality <why>: it is the <method> fit").
    """

    description: str
    build: Callable
    complexity: int
    cost: float = 0.2
    shares_stages: bool = False
    same_with_one_modality: str | None = None
    why_the_same: str = ""


_REGISTRY = {}


def register_method(name, method):
    """Add ``method`` (a :class:`Method`) to the protocol under ``name``, last in the tables.

    A name already registered is replaced in its place. Returns ``method``.

    Examples
    --------
    A ridge regression with its penalty searched, beside the library's methods:

    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_seqinv.evaluation import Method, evaluate_dataset, register_method
    >>> from sklearn_seqinv.datasets import load_dataset
    >>> def ridge(modalities, task, max_epochs, random_state):
    ...     return make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": [0.1, 10.0]}
    >>> _ = register_method("ridge", Method("Ridge, alpha searched", ridge, complexity=1))
    >>> data = load_dataset(n_samples=120, random_state=0)  # scores in [-3, 3]
    >>> results = evaluate_dataset(data, methods=["ridge"], verbose=0)
    >>> sorted({r["method"] for r in results["summary"]})
    ['ridge']
    >>> del _REGISTRY["ridge"]  # the example leaves the registry as it found it
    """
    if not isinstance(name, str) or not name or name.endswith(CONTEXT_SUFFIX):
        raise ValueError(
            f"A method's name must be a non-empty str not ending in {CONTEXT_SUFFIX!r}; got "
            f"{name!r}."
        )
    if not isinstance(method, Method):
        raise TypeError(f"register_method takes a Method; got {type(method).__name__}.")
    _REGISTRY[name] = method
    return method


def registry():
    """The registered methods, by name, in the order of the results tables."""
    return dict(_REGISTRY)


# Builders: each returns (estimator, grid or None) for the data's modalities.


def _sequential(strategy=None, order="given"):
    def build(modalities, task, max_epochs, random_state):
        from ._catalog import selection_grid, sequential_method

        meta = sequential_method(
            modalities, task, max_epochs, random_state, strategy=strategy, order=order
        )
        return meta, selection_grid(meta)

    return build


def _ungated(invariance=None, grid=None, hidden_units=0):
    def build(modalities, task, max_epochs, random_state):
        from ._catalog import ungated_head

        head = ungated_head(
            task, max_epochs, random_state, invariance=invariance, hidden_units=hidden_units
        )
        return head, grid

    return build


def _linear(kind):
    def build(modalities, task, max_epochs, random_state):
        from ._catalog import linear_method

        return linear_method(modalities, task, kind)

    return build


_ORDER = "the order and the grouping of the modalities cannot differ"


def _ablation(description, *, shares_stages=True, strategy=None, order="given"):
    """A variant of the method in its order or grouping of the modalities alone: the method
    itself on data of one modality."""
    return Method(
        description,
        _sequential(strategy=strategy, order=order),
        complexity=3,
        cost=3.0,
        shares_stages=shares_stages,
        same_with_one_modality="text_first",
        why_the_same=_ORDER,
    )


#: Hidden width of the ERM + CORAL baseline's head (the representation CORAL matches).
CORAL_HIDDEN_UNITS = 16

_REGISTRY.update(
    {
        "text_first": Method(
            "sequential selection, text then the other modalities (the method)",
            _sequential(),
            complexity=3,
            cost=3.0,
            shares_stages=True,
        ),
        # Each order searches its own grid: "no selection" ungates the modality it fits first,
        # so the ablation differs from the method in its order alone.
        "video_first": _ablation(
            "sequential selection, video first, then the rest in their order",
            order="video_first",
        ),
        "joint": _ablation(
            "one set of gates and one head over all modalities at once",
            shares_stages=False,
            strategy="joint",
        ),
        "independent": _ablation(
            "each modality selected alone, then a head on the selection",
            strategy="independent",
        ),
        "erm": Method(
            "ungated head on every column, no penalty (a tuned linear model)", _ungated(), 1
        ),
        # The penalty weight of the ungated baselines is model-selected too, as DomainBed does.
        "erm_irm": Method(
            "ungated head with the IRMv1 penalty (weight model-selected)",
            _ungated("irm", {"invariance_weight": [1.0, 10.0, 100.0]}),
            complexity=2,
            cost=1.0,
        ),
        "erm_vrex": Method(
            "ungated head with the V-REx penalty (weight model-selected)",
            _ungated("vrex", {"invariance_weight": [1.0, 10.0, 100.0]}),
            complexity=2,
            cost=1.0,
        ),
        # CORAL matches the moments of a representation: a hidden layer (DomainBed's
        # featurizer), since an ungated linear head reads the fixed inputs.
        "erm_coral": Method(
            "ungated one-hidden-layer head with CORAL on its hidden layer (weight model-selected)",
            _ungated("coral", {"invariance_weight": [0.1, 1.0, 10.0]}, CORAL_HIDDEN_UNITS),
            complexity=3,
            cost=2.0,
        ),
        "linear": Method(
            "StandardScaler + LogisticRegression / Ridge with scikit-learn's defaults",
            _linear("default"),
            complexity=0,
        ),
        "linear_tuned": Method(
            "the same with C (Ridge: alpha) chosen on held-out training rows",
            _linear("tuned"),
            complexity=1,
        ),
        "text_linear": Method(
            "linear_tuned on the first (text) modality's columns only",
            _linear("text"),
            complexity=1,
            same_with_one_modality="linear_tuned",
            why_the_same="its columns are every column",
        ),
    }
)

#: Method name -> one line of what it is, in the order of the results tables.
METHOD_DESCRIPTIONS = {name: method.description for name, method in _REGISTRY.items()}
METHODS = tuple(METHOD_DESCRIPTIONS)


#: Suffix of a method fitted with the context columns of :class:`~sklearn_seqinv.GroupContext`
#: (the protocol's ``context_group``): ``"text_first+context"``.
CONTEXT_SUFFIX = "+context"


def base_method(name):
    """The registered name of a method (``"text_first+context"`` -> ``"text_first"``)."""
    return name[: -len(CONTEXT_SUFFIX)] if name.endswith(CONTEXT_SUFFIX) else name


def method_complexity(name):
    """The complexity of a method (:class:`Method`; 3 for an unknown one); context adds one
    (one more source of inputs chosen from the training data)."""
    method = _REGISTRY.get(base_method(name))
    base = 3 if method is None else method.complexity
    return base + 1 if name.endswith(CONTEXT_SUFFIX) else base
