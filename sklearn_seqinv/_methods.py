"""Names of the methods the DG protocol compares (no heavy imports: the CLI's help needs them)."""

#: Method name -> one line of what it is, in the order of the results tables.
METHOD_DESCRIPTIONS = {
    "text_first": "sequential selection, text then the other modalities (the method)",
    "video_first": "sequential selection, video first, then the rest in their order",
    "joint": "one set of gates and one head over all modalities at once",
    "independent": "each modality selected alone, then a head on the selection",
    "erm": "ungated head on every column, no penalty (a tuned linear model)",
    "erm_irm": "ungated head with the IRMv1 penalty (weight model-selected)",
    "erm_vrex": "ungated head with the V-REx penalty (weight model-selected)",
    "erm_coral": "ungated one-hidden-layer head with CORAL on its hidden layer (weight "
    "model-selected)",
    "linear": "StandardScaler + LogisticRegression / Ridge with scikit-learn's defaults",
    "linear_tuned": "the same with C (Ridge: alpha) chosen on held-out training rows",
    "text_linear": "linear_tuned on the first (text) modality's columns only",
}
METHODS = tuple(METHOD_DESCRIPTIONS)

#: Method name -> how much it chooses from the training data beyond a linear model's
#: coefficients: 0 nothing (scikit-learn's defaults), 1 one L2 weight, 2 a penalty weight as
#: well, 3 gates, a tie test or a hidden layer. When validation cannot tell methods apart,
#: the recommendation takes the simplest (:func:`~sklearn_seqinv._aggregate.recommend`).
METHOD_COMPLEXITY = {
    "linear": 0,
    "linear_tuned": 1,
    "text_linear": 1,
    "erm": 1,
    "erm_irm": 2,
    "erm_vrex": 2,
    "erm_coral": 3,
    "text_first": 3,
    "video_first": 3,
    "joint": 3,
    "independent": 3,
}


#: Suffix of a method fitted with the context columns of :class:`~sklearn_seqinv.GroupContext`
#: (the protocol's ``context_group``): ``"text_first+context"``.
CONTEXT_SUFFIX = "+context"


def base_method(name):
    """The catalog name of a method (``"text_first+context"`` -> ``"text_first"``)."""
    return name[: -len(CONTEXT_SUFFIX)] if name.endswith(CONTEXT_SUFFIX) else name


def method_complexity(name):
    """:data:`METHOD_COMPLEXITY` of a method; context adds one (one more source of inputs
    chosen from the training data)."""
    base = METHOD_COMPLEXITY.get(base_method(name), 3)
    return base + 1 if name.endswith(CONTEXT_SUFFIX) else base
