"""MSA metrics against hand-computed values; scorers and domain reports."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


# --- An independent re-derivation of MMSA's regression metrics (metricsTop.py of
# thuiar/MMSA, ``__eval_mosei_regression``), in plain Python: no scikit-learn, no numpy
# rounding helpers, so it checks the library rather than repeating it.


def _round_half_even(value):
    # MMSA rounds with np.round: halves go to the even integer, as Python's round does.
    return float(round(value))


def _clip(value, bound):
    return min(max(value, -bound), bound)


def _accuracy(a, b):
    return sum(x == y for x, y in zip(a, b)) / len(a)


def _weighted_f1(truth, pred):
    # f1_score(y_true, y_pred, average="weighted"): per-class F1 (0 where undefined)
    # weighted by the class's support in y_true, over the labels seen on either side.
    total = 0.0
    for label in set(truth) | set(pred):
        tp = sum(t == label and p == label for t, p in zip(truth, pred))
        fp = sum(t != label and p == label for t, p in zip(truth, pred))
        fn = sum(t == label and p != label for t, p in zip(truth, pred))
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        total += f1 * sum(t == label for t in truth)
    return total / len(truth)


def _pearson(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if va == 0 or vb == 0:
        return 0.0  # MMSA's np.corrcoef gives NaN here; the library documents 0.0
    return cov / (va**0.5 * vb**0.5)  # the product of variances underflows for tiny scores


def _mmsa(truth, pred):
    nonzero = [(t > 0, p > 0) for t, p in zip(truth, pred) if t != 0]
    has0_truth, has0_pred = [t >= 0 for t in truth], [p >= 0 for p in pred]
    scores = {
        "has0_acc2": _accuracy(has0_pred, has0_truth),
        "has0_f1": _weighted_f1(has0_truth, has0_pred),
        "mae": sum(abs(p - t) for t, p in zip(truth, pred)) / len(truth),
        "corr": _pearson(pred, truth),
    }
    for name, bound in (("mult_acc5", 2.0), ("mult_acc7", 3.0)):
        scores[name] = _accuracy(
            [_round_half_even(_clip(p, bound)) for p in pred],
            [_round_half_even(_clip(t, bound)) for t in truth],
        )
    if nonzero:
        truth_nz, pred_nz = zip(*nonzero)
        scores["non0_acc2"] = _accuracy(pred_nz, truth_nz)
        scores["non0_f1"] = _weighted_f1(list(truth_nz), list(pred_nz))
    return scores


# Scores as MOSI/MOSEI have them: many exact zeros, halves (rounding ties), clipping edges.
_score = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.0, -3.0, 2.0, -2.0]),
    st.floats(-3.5, 3.5, allow_nan=False, allow_subnormal=False),
)


@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            st.lists(_score, min_size=n, max_size=n),
            st.one_of(
                st.lists(_score, min_size=n, max_size=n),
                _score.map(lambda c: [c] * n),  # constant predictions
            ),
        )
    )
)
@settings(max_examples=300, deadline=None)
def test_msa_scores_equal_an_independent_rederivation_of_mmsa(pair):
    truth, pred = pair
    expected = _mmsa(truth, pred)
    if "non0_acc2" not in expected:
        with pytest.raises(ValueError, match="Non0"):
            msa_scores(truth, pred)
        return
    got = msa_scores(truth, pred)
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12, rel=0), name
