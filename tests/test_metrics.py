"""MSA metrics against hand-computed values; scorers and domain reports."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.metrics import (
    corr,
    cross_validate_domains,
    format_domain_report,
    has0_acc2,
    mae,
    msa_scorers,
    msa_scores,
    mult_acc5,
    mult_acc7,
    non0_acc2,
)

Y_TRUE = np.array([-2.6, -0.4, 0.0, 0.0, 1.2, 2.8])
Y_PRED = np.array([-2.0, 0.3, -0.2, 0.4, 1.6, 1.4])


def test_msa_scores_match_hand_computed_values():
    scores = msa_scores(Y_TRUE, Y_PRED)
    assert set(scores) == {
        "has0_acc2",
        "has0_f1",
        "non0_acc2",
        "non0_f1",
        "mult_acc5",
        "mult_acc7",
        "mae",
        "corr",
    }
    assert scores["has0_acc2"] == pytest.approx(4 / 6)  # -0.4->+0.3 and 0.0->-0.2 are wrong
    assert scores["non0_acc2"] == pytest.approx(3 / 4)  # zeros dropped; -0.4->+0.3 wrong
    # clipped to [-2, 2] and rounded: true -2,-0,0,0,1,2; pred -2,0,-0,0,2,1
    assert mult_acc5(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    # clipped to [-3, 3]: true -3,-0,0,0,1,3; pred -2,0,-0,0,2,1
    assert mult_acc7(Y_TRUE, Y_PRED) == pytest.approx(3 / 6)
    assert mae(Y_TRUE, Y_PRED) == pytest.approx(np.abs(Y_TRUE - Y_PRED).mean())
    assert corr(Y_TRUE, Y_PRED) == pytest.approx(np.corrcoef(Y_TRUE, Y_PRED)[0, 1])


def test_corr_of_constant_predictions_is_zero_and_errors_are_clear():
    assert corr(Y_TRUE, np.ones(6)) == 0.0
    with pytest.raises(ValueError, match="inconsistent numbers"):
        has0_acc2(Y_TRUE, Y_PRED[:-1])
    with pytest.raises(ValueError, match="Non0"):
        non0_acc2(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="finite"):
        mae([np.nan, 1.0], [0.0, 1.0])


def test_scorers_work_in_cross_validation():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 3))
    y = np.clip(X[:, 0] * 2, -3, 3)
    scorers = msa_scorers()
    neg_mae = cross_val_score(Ridge(), X, y, cv=3, scoring=scorers["mae"])
    assert (neg_mae < 0).all()
    assert cross_val_score(Ridge(), X, y, cv=3, scoring=scorers["has0_acc2"]).mean() > 0.8


def test_domain_report_gives_each_domain_mean_and_worst(small_domains):
    d = small_domains
    report = cross_validate_domains(
        LogisticRegression(), d.X, d.y, sample_domain=d.sample_domain, scoring={"acc": "accuracy"}
    )
    assert [f["domains"] for f in report.per_fold] == [["0"], ["1"], ["2"]]
    accs = [f["acc"] for f in report.per_fold]
    assert report.mean["acc"] == pytest.approx(np.mean(accs))
    assert report.worst["acc"] == min(accs)
    table = format_domain_report(report)
    assert "**worst**" in table and table.count("\n") == 7  # header, rule, 3 folds, mean, worst


def test_domain_report_passes_sample_domain_to_estimators_that_take_it(small_domains):
    d = small_domains
    report = cross_validate_domains(
        InvariantMaskSelector(max_epochs=3, random_state=0), d.X, d.y, sample_domain=d.sample_domain
    )
    assert len(report.per_fold) == 3 and 0 <= report.worst["score"] <= 1
