"""Domain splitters: protocols, routing by sample_domain, and errors."""

import numpy as np
import pytest
from sklearn import config_context
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score

from sklearn_seqinv.model_selection import (
    LeaveOneDomainOut,
    SingleSourceDomainSplit,
    TrainingDomainHoldout,
)

DOMAIN = np.repeat(["a", "b", "c"], 4)
X = np.arange(24.0).reshape(12, 2)


def test_leave_one_domain_out_tests_each_domain_once():
    splits = list(LeaveOneDomainOut().split(X, sample_domain=DOMAIN))
    assert len(splits) == 3
    for train, test in splits:
        assert len(set(DOMAIN[test])) == 1 and set(DOMAIN[test]).isdisjoint(DOMAIN[train])


def test_single_source_trains_on_one_domain_and_tests_on_another():
    splits = list(SingleSourceDomainSplit().split(X, groups=DOMAIN))
    assert len(splits) == 6
    assert SingleSourceDomainSplit().get_n_splits(X, groups=DOMAIN) == 6
    for train, test in splits:
        assert len(set(DOMAIN[train])) == 1 and len(set(DOMAIN[test])) == 1
        assert set(DOMAIN[train]) != set(DOMAIN[test])


def test_training_domain_holdout_holds_out_part_of_every_domain():
    train, test = next(
        TrainingDomainHoldout(test_size=0.25, random_state=0).split(X, sample_domain=DOMAIN)
    )
    assert sorted(DOMAIN[test].tolist()) == ["a", "b", "c"]
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 12


def test_splitters_receive_sample_domain_through_routing():
    y = np.tile([0, 1], 6)
    with config_context(enable_metadata_routing=True):
        scores = cross_val_score(
            LogisticRegression(), X, y, cv=LeaveOneDomainOut(), params={"sample_domain": DOMAIN}
        )
        grid = GridSearchCV(
            LogisticRegression(), {"C": [0.1, 1.0]}, cv=TrainingDomainHoldout(random_state=0)
        )
        grid.fit(X, y, sample_domain=DOMAIN)
    assert len(scores) == 3 and len(grid.cv_results_["params"]) == 2


@pytest.mark.parametrize("splitter", [LeaveOneDomainOut(), SingleSourceDomainSplit()])
def test_one_domain_or_no_labels_raise(splitter):
    with pytest.raises(ValueError, match="at least 2 domains"):
        list(splitter.split(X, groups=np.zeros(12)))
    with pytest.raises(ValueError, match="sample_domain or groups"):
        list(splitter.split(X))
