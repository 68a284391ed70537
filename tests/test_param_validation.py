"""Every public estimator, found by discovery, validates each parameter with a clear message.

In the manner of imbalanced-learn's ``check_param_validation``: the declared constraints
match ``get_params()``, and a value that no constraint of a parameter admits makes ``fit``
raise ``InvalidParameterError`` naming that parameter.
"""

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import (
    InvalidParameterError,
    generate_invalid_param_val,
    make_constraint,
)
from skorch import NeuralNet

import sklearn_seqinv


def _public_estimators():
    found = {}
    modules = ["sklearn_seqinv"] + [
        info.name
        for info in pkgutil.walk_packages(sklearn_seqinv.__path__, "sklearn_seqinv.")
        if not info.name.rsplit(".", 1)[-1].startswith("_")
    ]
    for name in modules:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            # The skorch layer's net is a BaseEstimator by inheritance, not one of ours.
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and not issubclass(obj, NeuralNet)
            ):
                found[obj.__name__] = obj
    return found


ESTIMATORS = _public_estimators()
RNG = np.random.default_rng(0)
NUMERIC = (RNG.standard_normal((30, 4)), np.tile([0, 1], 15))


def _instance(cls):
    if "modalities" in inspect.signature(cls).parameters:
        selector = ESTIMATORS["InvariantMaskSelector"](max_epochs=1)
        return cls([("text", selector, [0, 1]), ("video", selector, [2, 3])])
    return cls()


def _data(cls):
    if cls.__name__ == "SentenceEncoder":
        return (np.array(["a good film", "a bad film"], dtype=object), None)
    return NUMERIC


def _invalid_values(constraints):
    """Values that no constraint of the parameter admits."""
    constraints = [make_constraint(c) for c in constraints]
    candidates = [object()]
    for constraint in constraints:
        try:
            candidates.append(generate_invalid_param_val(constraint))
        except NotImplementedError:
            pass
    return [value for value in candidates if not any(c.is_satisfied_by(value) for c in constraints)]


def test_discovery_finds_every_public_estimator():
    assert {
        "InvariantMaskSelector",
        "SequentialModalityClassifier",
        "SequentialModalityRegressor",
        "SentenceEncoder",
    } <= set(ESTIMATORS)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_constraints_match_the_parameters(name):
    estimator = _instance(ESTIMATORS[name])
    assert set(estimator._parameter_constraints) == set(estimator.get_params(deep=False))


CASES = [
    (name, param)
    for name, cls in sorted(ESTIMATORS.items())
    for param in sorted(cls._parameter_constraints)
]


@pytest.mark.parametrize(("name", "param"), CASES)
def test_each_constraint_rejects_a_bad_value_with_a_clear_message(name, param):
    cls = ESTIMATORS[name]
    values = _invalid_values(cls._parameter_constraints[param])
    assert values, f"no invalid value could be built for {name}.{param}"
    X, y = _data(cls)
    for value in values:
        estimator = _instance(cls).set_params(**{param: value})
        with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of {name}"):
            estimator.fit(X, y)
