"""The DG protocol runner behind the main job."""

import json
import warnings

import numpy as np
import pytest

from sklearn_seqinv.datasets import make_multimodal_domains
from sklearn_seqinv.evaluation import evaluate_domain_generalization, results_to_markdown


@pytest.fixture(scope="module")
def results():
    data = make_multimodal_domains(n_samples=150, random_state=0)
    return evaluate_domain_generalization(
        data.X,
        data.y,
        data.sample_domain,
        data.modalities,
        methods=["text_first", "erm_vrex", "linear"],
        max_epochs=2,
        verbose=0,
    )


def test_every_target_domain_is_scored_for_every_method(results):
    lodo = [r for r in results["records"] if r["protocol"] == "leave_one_domain_out"]
    single = [r for r in results["records"] if r["protocol"] == "single_source"]
    assert len(lodo) == 3 * 3  # 3 held-out domains x 3 methods
    assert len(single) == 3 * 2 * 3  # 3 sources x 2 targets x 3 methods
    assert all(r["target"] not in r["sources"] for r in results["records"])


def test_model_selection_is_recorded_and_results_are_plain_json(results):
    assert {c["method"] for c in results["chosen"]} == {"text_first", "erm_vrex"}
    assert json.loads(json.dumps(results))["task"] == "classification"


def test_summary_worst_is_the_minimum_over_targets(results):
    row = next(
        r
        for r in results["summary"]
        if r["protocol"] == "leave_one_domain_out" and r["method"] == "linear"
    )
    accs = [
        r["accuracy"]
        for r in results["records"]
        if r["protocol"] == "leave_one_domain_out" and r["method"] == "linear"
    ]
    assert row["accuracy_worst"] == min(accs)
    assert row["accuracy_mean"] == pytest.approx(np.mean(accs))
    assert "| leave_one_domain_out | linear |" in results_to_markdown(results)


def test_unknown_method_and_single_domain_are_refused():
    data = make_multimodal_domains(n_samples=60, random_state=0)
    with pytest.raises(ValueError, match="Unknown methods"):
        evaluate_domain_generalization(
            data.X, data.y, data.sample_domain, data.modalities, methods=["magic"]
        )
    with pytest.raises(ValueError, match="at least 2 domains"):
        evaluate_domain_generalization(data.X, data.y, np.zeros(60), data.modalities)


def test_video_first_moves_only_the_video_to_the_front():
    from sklearn_seqinv.evaluation import make_methods

    modalities = {"text": np.arange(3), "audio": np.arange(3, 5), "video": np.arange(5, 8)}
    model, _ = make_methods(modalities, "classification")["video_first"]
    assert [name for name, _, _ in model.modalities] == ["video", "text", "audio"]


def test_target_labels_never_reach_model_selection():
    # Permuting the labels of a held-out domain must leave every choice made without it
    # unchanged: selection sees the training domains only.
    data = make_multimodal_domains(n_samples=180, random_state=1)
    run = dict(
        methods=["text_first", "linear_tuned"],
        protocols=("leave_one_domain_out",),
        max_epochs=3,
        verbose=0,
    )
    args = (data.X, data.sample_domain, data.modalities)
    base = evaluate_domain_generalization(data.X, data.y, *args[1:], **run)
    target = 2
    permuted = data.y.copy()
    rows = np.flatnonzero(data.sample_domain == target)
    permuted[rows] = np.random.default_rng(0).permutation(permuted[rows])
    assert not np.array_equal(permuted, data.y)
    other = evaluate_domain_generalization(data.X, permuted, *args[1:], **run)

    def without_target(results):
        return [c for c in results["chosen"] if str(target) not in c["sources"]]

    assert without_target(base) and without_target(base) == without_target(other)


@pytest.fixture(scope="module")
def one_source():
    # Single-source DG: one training environment per fit, so ERM + V-REx fits ERM's model.
    data = make_multimodal_domains(n_samples=120, random_state=0)
    return evaluate_domain_generalization(
        data.X,
        data.y,
        data.sample_domain,
        data.modalities,
        methods=["erm", "erm_vrex", "linear"],
        protocols=("single_source",),
        max_epochs=2,
        verbose=0,
    )


def test_identical_rows_are_explained_by_what_the_fits_did(one_source):
    fits = [f for f in one_source["fits"] if f["method"] == "erm_vrex"]
    assert fits and all(f["environments"] == 1 and f["invariance"] == "vrex" for f in fits)
    assert not any(f["penalty"] for f in fits)
    text = results_to_markdown(one_source)
    assert (
        "single_source: erm, erm_vrex score the same: every fit saw one training environment, "
        "so the invariance penalty of erm_vrex has nothing to compare and is zero (their "
    ) in text
    # The cause is read from the fits: scores that coincide with different predictions are
    # said to be a coincidence, not a shared model.
    changed = json.loads(json.dumps(one_source))
    for f in changed["fits"]:
        if f["method"] == "erm_vrex":
            f["predictions"] = "other"
    assert "they predict differently on some rows, and their scores coincide" in (
        results_to_markdown(changed)
    )


def test_dense_stages_are_named_as_the_cause_of_identical_rows():
    from sklearn_seqinv.evaluation._report import footnotes

    row = {"protocol": "single_source", "accuracy_mean": 0.7, "accuracy_worst": 0.6}
    dense = {"video": {"kept": 4, "width": 4, "outcome": "dense"}}
    fit = {"protocol": "single_source", "environments": 2, "invariance": None, "predictions": "h"}
    results = {
        "summary": [{**row, "method": "joint"}, {**row, "method": "erm"}],
        "fits": [
            {**fit, "method": "joint", "stages": {"text": dense["video"], **dense}},
            {**fit, "method": "erm", "stages": {}},
        ],
    }
    (note, *_) = footnotes(results, ["accuracy"])
    assert "every stage of joint kept the dense model (or every gate open) in every fit" in note
    assert "and the model is erm's, ungated on every column" in note


def test_a_collapsed_worst_domain_is_said_with_its_number(one_source):
    from sklearn_seqinv.evaluation._report import footnotes

    low = json.loads(json.dumps(one_source))
    for r in low["summary"]:
        if r["method"] == "linear":
            r["accuracy_worst"] = 0.05
    notes = footnotes(low, ["accuracy"])
    assert any(
        "worst-domain accuracy far below chance for" in n
        and "linear (0.050)" in n
        and "one training environment" in n
        for n in notes
    )


def test_recommendation_is_chosen_by_validation_and_the_best_row_is_said_apart():
    from sklearn_seqinv.evaluation._aggregate import recommend
    from sklearn_seqinv.evaluation._report import recommendation_lines

    p = "leave_one_domain_out"
    validation = [
        {"protocol": p, "method": "a", "score": 0.9},
        {"protocol": p, "method": "a", "score": 0.8},
        {"protocol": p, "method": "b", "score": 0.7},
        {"protocol": p, "method": "b", "score": 0.7},
    ]
    summary = [
        {"protocol": p, "method": "a", "accuracy_mean": 0.6, "accuracy_worst": 0.5},
        {"protocol": p, "method": "b", "accuracy_mean": 0.9, "accuracy_worst": 0.8},
    ]
    chosen = recommend(validation, summary, "accuracy")[p]
    assert chosen["method"] == "a" and chosen["validation"] == pytest.approx(0.85)
    assert chosen["best_method"] == "b"
    (line,) = recommendation_lines({"recommended": {p: chosen}})
    assert line.startswith(f"**Recommended for {p}: a**")
    assert "The best row is b (0.900 mean), +0.300" in line


def test_recommendation_never_reads_the_targets(results):
    # Every fit has validation scores on its training domains (held-out rows, and each
    # training domain held out in turn when there are two or more); the recommendation is
    # the best mean of those (or the simplest method within its noise), whatever the
    # target scores say.
    assert len(results["validation"]) == len(results["fits"]) == 3 * (3 + 3)
    lodo = results["recommended"]["leave_one_domain_out"]
    single = results["recommended"]["single_source"]
    assert lodo["validated_by"] == "held-out training domains"
    assert single["validated_by"] == "held-out rows"
    for protocol, chosen in results["recommended"].items():
        scores = {}
        for v in results["validation"]:
            if v["protocol"] == protocol:
                domains = v["score"]["domains"]
                assert (domains is None) == (protocol == "single_source")
                value = v["score"]["rows"] if domains is None else np.mean(domains)
                scores.setdefault(v["method"], []).append(value)
        assert chosen["highest_validation"] == max(scores, key=lambda m: np.mean(scores[m]))
        assert chosen["method"] in chosen["tied"]
    flipped = json.loads(json.dumps(results))
    for r in flipped["summary"]:
        r["accuracy_mean"] = 1.0 - r["accuracy_mean"]
    from sklearn_seqinv.evaluation._aggregate import recommend

    again = recommend(flipped["validation"], flipped["summary"], "accuracy")
    assert {p: c["method"] for p, c in again.items()} == {
        p: c["method"] for p, c in results["recommended"].items()
    }


def test_held_out_training_domains_are_scored_by_a_refit_without_them():
    from sklearn.linear_model import LogisticRegression

    from sklearn_seqinv.evaluation._units import fit_validated

    data = make_multimodal_domains(n_samples=150, random_state=0)
    _, _, validation = fit_validated(
        LogisticRegression(), None, data.X, data.y, data.sample_domain, 0
    )
    for d, score in zip(np.unique(data.sample_domain), validation["domains"]):
        out = data.sample_domain == d
        model = LogisticRegression().fit(data.X[~out], data.y[~out])
        assert score == pytest.approx(model.score(data.X[out], data.y[out]))


def test_the_search_holds_out_training_domains_and_its_scores_are_the_validation():
    # The grid search itself is leave-one-training-domain-out: the candidate with the best
    # mean held-out-domain score is chosen, those scores are its validation, and nothing
    # is fitted beyond the search's folds and its one refit.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_score

    from sklearn_seqinv.evaluation._units import fit_validated

    fitted_rows = []

    class Counted(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            fitted_rows.append(len(X))
            return super().fit(X, y, sample_weight=sample_weight)

    data = make_multimodal_domains(n_samples=150, random_state=0)
    grid = {"C": [1e-3, 1.0]}
    model, chosen, validation = fit_validated(
        Counted(), grid, data.X, data.y, data.sample_domain, 0
    )
    by_hand = {
        c: cross_val_score(
            LogisticRegression(C=c),
            data.X,
            data.y,
            groups=data.sample_domain,
            cv=LeaveOneGroupOut(),
        )
        for c in grid["C"]
    }
    best = max(grid["C"], key=lambda c: by_hand[c].mean())
    assert chosen == {"C": best}
    assert validation["domains"] == pytest.approx(list(by_hand[best]))
    assert validation["rows"] is None
    n_domains = len(np.unique(data.sample_domain))
    assert len(fitted_rows) == len(grid["C"]) * n_domains + 1
    assert fitted_rows[-1] == len(data.y) and model.C == best


def test_one_modality_does_not_fit_its_order_variants_twice():
    data = make_multimodal_domains(n_samples=90, random_state=0)
    text = {"text": data.modalities["text"]}
    results = evaluate_domain_generalization(
        data.X[:, text["text"]],
        data.y,
        data.sample_domain,
        {"text": np.arange(len(text["text"]))},
        methods=["text_first", "video_first", "joint", "linear", "linear_tuned", "text_linear"],
        protocols=("leave_one_domain_out",),
        max_epochs=2,
        verbose=0,
    )
    assert {r["method"] for r in results["records"]} == {"text_first", "linear", "linear_tuned"}
    assert set(results["skipped"]) == {"video_first", "joint", "text_linear"}
    report = results_to_markdown(results)
    assert "video_first, joint not fitted: with one modality" in report
    assert "text_linear not fitted: with one modality its columns are every column" in report


def test_progress_counts_fits_with_time_left(capsys):
    data = make_multimodal_domains(n_samples=90, random_state=0)
    evaluate_domain_generalization(
        data.X,
        data.y,
        data.sample_domain,
        data.modalities,
        methods=["erm", "linear"],
        protocols=("leave_one_domain_out",),
        max_epochs=2,
        verbose=1,
    )
    out = capsys.readouterr().out
    assert out.startswith("Fitting 6 models")
    lines = out.splitlines()[1:]
    assert "[1/6] leave_one_domain_out erm" in out and "[6/6]" in out
    # No estimate from the first fits alone: the long fits run first.
    assert all("(estimating time left)" in line for line in lines[:2])
    assert all("s left)" in line and "about" in line for line in lines[2:5])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_warnings_of_the_fits_reach_the_caller(n_jobs):
    # One training domain with the V-REx penalty: each such fit warns. With n_jobs=2 the
    # fits run in worker processes, whose own warning filters and stderr the caller never
    # sees: the warnings come back and are raised here, under the caller's filters.
    data = make_multimodal_domains(n_samples=90, random_state=0)
    run = dict(
        methods=["erm_vrex"], protocols=("single_source",), max_epochs=2, verbose=0, n_jobs=n_jobs
    )
    args = (data.X, data.y, data.sample_domain, data.modalities)
    with pytest.warns(UserWarning, match="'vrex' invariance penalty, but one domain"):
        evaluate_domain_generalization(*args, **run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning the caller turns into an error raises
        with pytest.raises(UserWarning, match="one domain"):
            evaluate_domain_generalization(*args, **run)


def _official(n_samples=240, seed=0):
    """Generated data whose domains 0-2 are the training split and domain 3 the test split."""
    data = make_multimodal_domains(n_samples=n_samples, n_domains=4, random_state=seed)
    split = np.where(data.sample_domain == 3, "test", "train")
    # Test speakers in two groups, as a loader's test-split domains would be.
    domain = data.sample_domain.astype(object)
    domain[split == "test"] = np.where(np.arange((split == "test").sum()) % 2, "t1", "t0")
    return data, split, domain


@pytest.fixture(scope="module")
def official():
    data, split, domain = _official()
    results = evaluate_domain_generalization(
        data.X,
        data.y,
        domain,
        data.modalities,
        methods=["text_first", "linear"],
        protocols=("official_split",),
        split=split,
        corruptions=[("video", "noise"), ("video", "missing"), ("video", "zero")],
        max_epochs=3,
        verbose=0,
    )
    return data, split, domain, results


def test_official_split_fits_on_the_train_rows_and_scores_each_test_domain(official):
    data, split, domain, results = official
    clean = [r for r in results["records"] if "corruption" not in r]
    assert {r["target"] for r in clean} == {"t0", "t1"}
    assert {tuple(r["sources"]) for r in clean} == {("0", "1", "2")}
    linear = next(r for r in clean if r["method"] == "linear" and r["target"] == "t1")
    test = (split == "test") & (domain == "t1")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = split == "train"
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data.X[train], data.y[train])
    assert linear["accuracy"] == pytest.approx(model.score(data.X[test], data.y[test]))
    assert results["gates"]["text_first"]["text"]["n_folds"] == 1


def test_corruptions_are_scored_beside_the_clean_rows_for_every_method(official):
    *_, results = official
    kinds = {(r["method"], r.get("corruption")) for r in results["summary"]}
    for method in ("text_first", "linear"):
        for corruption in (None, "video:noise", "video:missing", "video:zero"):
            assert (method, corruption) in kinds
    imputed = {
        r["method"]: r["imputed"]
        for r in results["summary"]
        if r.get("corruption") == "video:missing"
    }
    # The sequential fit predicts a missing later modality from the stages before; a plain
    # linear model has no such path and sees the training mean instead.
    assert imputed == {"text_first": False, "linear": True}
    text = results_to_markdown(results)
    assert "Test-time corruptions" in text and "video:noise" in text and "*" in text
    table = text.split("Test-time corruptions")[0]
    assert "video:noise" not in table  # the main table shows clean scores only


def test_noise_corruption_changes_predictions_of_a_model_that_uses_the_modality(official):
    *_, results = official
    by = {
        (r["method"], r.get("corruption"), r["target"]): r["accuracy"]
        for r in results["records"]
        if r["method"] == "linear"
    }
    clean = [by[("linear", None, t)] for t in ("t0", "t1")]
    noisy = [by[("linear", "video:noise", t)] for t in ("t0", "t1")]
    assert clean != noisy


def test_corruption_noise_is_the_same_for_every_method_and_seeded():
    from sklearn_seqinv.evaluation._shifts import corrupt_rows

    data, split, _ = _official(120)
    train, test = split == "train", split == "test"
    cols = data.modalities["video"]
    a, _ = corrupt_rows(data.X, None, train, test, cols, "noise", [0, 0])
    b, _ = corrupt_rows(data.X, None, train, test, cols, "noise", [0, 0])
    c, _ = corrupt_rows(data.X, None, train, test, cols, "noise", [1, 0])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(np.delete(a, cols, axis=1), np.delete(data.X[test], cols, axis=1))
    # Noise of the training scale: column means and spreads near the training rows'.
    assert np.allclose(a[:, cols].std(axis=0), data.X[train][:, cols].std(axis=0), rtol=0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocols": ("official_split",)}, "needs split="),
        ({"protocols": ("official_split",), "split": ["train"] * 5}, "split has shape"),
        ({"protocols": ("official_split",), "split": "all-train"}, "split has shape"),
        ({"protocols": ("nested",)}, "Unknown protocols"),
        ({"corruptions": [("smell", "noise")]}, "unknown modality 'smell'"),
        ({"corruptions": [("video", "blur")]}, "unknown kind 'blur'"),
        ({"corruptions": ["video"]}, r"\(modality, kind\) pairs"),
    ],
)
def test_bad_protocol_split_and_corruption_arguments_are_named(kwargs, message):
    data = make_multimodal_domains(n_samples=60, random_state=0)
    with pytest.raises(ValueError, match=message):
        evaluate_domain_generalization(
            data.X, data.y, data.sample_domain, data.modalities, methods=["linear"], **kwargs
        )


def test_official_split_with_every_row_in_one_part_is_refused():
    data = make_multimodal_domains(n_samples=60, random_state=0)
    with pytest.raises(ValueError, match="some rows 'test' and some not"):
        evaluate_domain_generalization(
            data.X,
            data.y,
            data.sample_domain,
            data.modalities,
            methods=["linear"],
            protocols=("official_split",),
            split=["train"] * 60,
        )


def test_fallbacks_are_said_and_stability_is_over_real_selections_only():
    from sklearn_seqinv.evaluation._aggregate import average_gates

    sparse = [True, True, False, False]
    folds = [
        {"video": [[0.9, 0.9, 0.1, 0.1], sparse, False]},
        {"video": [[0.9, 0.9, 0.1, 0.1], sparse, False]},
        {"video": [[0.9, 0.9, 0.1, 0.1], [True] * 4, True]},  # the dense model won
        {"video": [[0.1, 0.1, 0.1, 0.1], [False] * 4, False]},  # nothing kept
    ]
    gates = average_gates({"text_first": folds})["text_first"]["video"]
    assert gates["outcomes"] == ["sparse", "sparse", "dense", "none"]
    assert gates["dense_folds"] == 1 and gates["none_folds"] == 1 and gates["n_folds"] == 4
    assert gates["jaccard"] == 1.0 and gates["jaccard_all_folds"] < 1.0
    row = {"protocol": "leave_one_domain_out", "method": "text_first"}
    results = {
        "task": "classification",
        "records": [],
        "summary": [{**row, "accuracy_mean": 0.8, "accuracy_worst": 0.7}],
        "gates": {"text_first": {"video": gates}},
    }
    text = results_to_markdown(results)
    assert (
        "text_first selection over the folds: video a real selection in 2 of 4 folds (kept 2, "
        "2 of 4 columns; Jaccard 1.00 over those 2 folds); kept all 4 columns (the dense "
        "candidate won the validation) in 1 of 4 folds; kept none (modality not trusted; "
        "prediction fell back on the earlier modalities) in 1 of 4 folds."
    ) in text


def test_an_unstable_selection_says_why():
    from sklearn_seqinv.evaluation._aggregate import average_gates
    from sklearn_seqinv.evaluation._report import footnotes

    folds = [
        {"text": [[0.9] * 6, [True, True, False, False, False, False], False]},
        {"text": [[0.9] * 6, [True, False, True, True, True, False], False]},
    ]
    gates = average_gates({"text_first": folds})["text_first"]
    results = {
        "summary": [],
        "gates": {"text_first": gates},
        "chosen": [
            {"protocol": "p", "method": "text_first", "sources": ["a"], "text__sparsity": 4.0},
            {"protocol": "p", "method": "text_first", "sources": ["b"], "text__invariance": None},
        ],
    }
    (note,) = footnotes(results, [])
    assert (
        "Jaccard 0.20 over those 2 folds, unstable: 1 columns kept in all of them, 4 in only "
        "one, and the model selection chose sparsity 4 in 1, no penalty in 1"
    ) in note


def test_a_selection_that_keeps_every_column_is_not_called_a_selection():
    from sklearn_seqinv.evaluation._aggregate import average_gates

    folds = [
        {"video": [[0.9] * 4, [True] * 4, False]},  # every gate open, no fallback
        {"video": [[0.9] * 4, [True, True, False, False], False]},
    ]
    gates = average_gates({"text_first": folds})["text_first"]["video"]
    assert gates["outcomes"] == ["open", "sparse"] and gates["open_folds"] == 1
    assert gates["jaccard"] is None  # one real selection: no overlap to speak of
    results = {
        "task": "classification",
        "records": [],
        "summary": [],
        "gates": {"m": {"video": gates}},
    }
    assert "kept every column (every gate stayed open) in 1 of 2 folds" in results_to_markdown(
        results
    )


def test_a_held_out_domain_whose_refit_fails_has_no_score_and_the_run_goes_on():
    # Without domain "a" only one class is left: that refit fails, the others do not.
    from sklearn.linear_model import LogisticRegression

    from sklearn_seqinv.evaluation._aggregate import _score
    from sklearn_seqinv.evaluation._units import fit_validated

    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 3))
    domain = np.repeat(["a", "b", "c"], 30)
    y = np.where(domain == "a", np.arange(90) % 2, 0)
    _, _, validation = fit_validated(LogisticRegression(), None, X, y, domain, 0)
    assert validation["domains"][0] is None
    assert all(isinstance(v, float) for v in validation["domains"][1:])
    entry = {"score": validation}
    assert _score(entry, "domains") == pytest.approx(np.mean(validation["domains"][1:]))


def test_selection_lines_state_the_columns_the_fitted_stages_keep():
    # The video stage's dense candidate wins here, and the tie test has dropped video
    # columns from it: the line must give the count the fitted stage keeps, not "all".
    from sklearn.preprocessing import StandardScaler

    from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier
    from sklearn_seqinv.evaluation._aggregate import average_gates, stage_outcomes
    from sklearn_seqinv.evaluation._report import footnotes

    data = make_multimodal_domains(
        n_samples=600, n_domains=3, modalities={"text": 12, "video": 10}, random_state=0
    )
    X = StandardScaler().fit_transform(data.X)
    stages = [
        (m, InvariantMaskSelector(max_epochs=20, random_state=0), data.modalities[m])
        for m in ("text", "video")
    ]
    model = SequentialModalityClassifier(stages).fit(X, data.y, sample_domain=data.sample_domain)
    outcomes = stage_outcomes(model)
    assert outcomes["video"]["outcome"] == "dense"
    record = {
        m: [
            s.gates.tolist(),
            s.support.tolist(),
            outcomes[m]["outcome"] == "dense",
            outcomes[m]["evidence"],
        ]
        for m, s in model.selection_.items()
    }
    gates = average_gates({"text_first": [record]})["text_first"]
    (note,) = footnotes({"summary": [], "gates": {"text_first": gates}}, [])
    for _, stage, _ in model.modalities_:
        kept, width = int(stage.get_support().sum()), stage.n_features_in_
        assert f"{kept} of {width} columns" in note
    video = model.modalities_[1][1]
    assert video.get_support().sum() < video.n_features_in_ and "kept all" not in note
    # The decision's evidence, per stage that decided: its mean gain and range.
    evidence = video.selection_evidence_
    assert evidence is not None and not evidence.sparse_kept
    gains = evidence.gains
    assert f"{gains.mean():+.3f} ({gains.min():+.3f} to {gains.max():+.3f}" in note


def _recommended_on_rows(found, n_rows=290):
    """The recommendation, and its report line, of methods validated at ``found`` on
    ``n_rows`` held-out rows (the same target scores for every method)."""
    from sklearn_seqinv.evaluation._aggregate import recommend
    from sklearn_seqinv.evaluation._report import recommendation_lines

    p = "official_split"
    validation = [
        {"protocol": p, "method": m, "score": {"rows": v, "n_rows": n_rows, "domains": None}}
        for m, v in found.items()
    ]
    summary = [
        {"protocol": p, "method": m, "accuracy_mean": 0.75, "accuracy_worst": 0.7} for m in found
    ]
    chosen = recommend(validation, summary, "accuracy")[p]
    (line,) = recommendation_lines({"recommended": {p: chosen}})
    return chosen, line


def test_validation_within_its_noise_recommends_the_simplest_method_and_says_why():
    # MOSI's case: every method validates at 0.983-0.989 on 290 held-out rows, a spread
    # below one binomial standard error (0.006): the arg-max would be noise.
    found = {"erm_coral": 0.989, "text_first": 0.986, "linear_tuned": 0.983, "erm": 0.95}
    chosen, line = _recommended_on_rows(found)
    assert chosen["highest_validation"] == "erm_coral"
    assert chosen["tied"] == ["erm_coral", "text_first", "linear_tuned"]  # not erm, 0.039 below
    assert chosen["method"] == "linear_tuned"
    assert chosen["standard_errors"]["erm"] == pytest.approx(np.sqrt(0.989 * 0.011 / 290))
    assert "Validation cannot tell erm_coral, text_first, linear_tuned apart" in line
    assert "so the simplest of them is recommended, linear_tuned." in line


def test_a_tie_won_by_the_highest_method_is_not_called_a_choice_of_the_simplest():
    # The main job's case: text_first and video_first (equally simple) within one standard
    # error, text_first the highest: it is recommended for its validation, and the report
    # must not say a simpler method was preferred.
    chosen, line = _recommended_on_rows({"text_first": 0.664, "video_first": 0.660, "erm": 0.5})
    assert chosen["tied"] == ["text_first", "video_first"]
    assert chosen["method"] == "text_first"
    assert (
        "none of the others is simpler than text_first, the highest, which is recommended." in line
    )
    assert "the simplest of them is recommended" not in line


def test_a_gain_on_every_held_out_domain_is_not_a_tie():
    from sklearn_seqinv.evaluation._aggregate import recommend

    p = "leave_one_domain_out"
    gains = {"text_first": [0.80, 0.70, 0.90], "linear_tuned": [0.70, 0.61, 0.79]}
    noisy = {"erm": [0.85, 0.60, 0.92]}  # above on two domains, far below on one
    validation = [
        {"protocol": p, "method": m, "sources": ["s"], "score": {"rows": 0.0, "domains": v}}
        for m, v in {**gains, **noisy}.items()
    ]
    summary = [
        {"protocol": p, "method": m, "accuracy_mean": 0.7, "accuracy_worst": 0.6}
        for m in (*gains, *noisy)
    ]
    chosen = recommend(validation, summary, "accuracy")[p]
    assert chosen["method"] == "erm" and chosen["tied"] == ["text_first", "erm"]
    assert "linear_tuned" not in chosen["tied"]  # 0.10 lower on every domain


def test_context_variants_are_fitted_beside_the_methods_and_help_where_groups_share_a_mood():
    # Each group of five rows shares a mood that sets their labels: the mean of the other
    # rows of the group is evidence about a row, and the +context rows must show it.
    rng = np.random.default_rng(0)
    n = 600
    group = np.arange(n) // 5
    mood = rng.standard_normal(n // 5)[group]
    y = (mood + 0.3 * rng.standard_normal(n) > 0).astype(int)
    X = np.c_[mood + 1.5 * rng.standard_normal(n), rng.standard_normal((n, 2))]
    domain = np.repeat(["a", "b", "c"], n // 3)
    results = evaluate_domain_generalization(
        X,
        y,
        domain,
        {"text": np.array([0, 1]), "audio": np.array([2])},
        methods=["linear_tuned"],
        protocols=("leave_one_domain_out",),
        context_group=group,
        verbose=0,
    )
    rows = {r["method"]: r for r in results["summary"]}
    assert set(rows) == {"linear_tuned", "linear_tuned+context"}
    assert (
        rows["linear_tuned+context"]["accuracy_mean"] > rows["linear_tuned"]["accuracy_mean"] + 0.05
    )
    from sklearn_seqinv.evaluation._report import results_to_markdown

    assert "other utterances of the same video" in results_to_markdown(results)


def test_a_context_never_reads_across_the_training_and_the_scored_rows():
    from sklearn_seqinv import GroupContext
    from sklearn_seqinv.evaluation._units import with_context

    X = np.array([[1.0], [3.0], [100.0], [300.0]])
    group = np.array(["g", "g", "g", "g"])  # one group split between the two parts
    train = np.array([True, True, False, False])
    out = with_context(X, train, ~train, GroupContext(), group, None)
    np.testing.assert_allclose(out[:, 1], [3.0, 1.0, 300.0, 100.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"context_group": np.zeros(5)}, r"context_group has shape \(5,\)"),
        ({"context_order": np.zeros(90)}, "context_order needs context_group"),
        ({"context_group": np.zeros(90), "context_modalities": ["smell"]}, "smell"),
        ({"context_group": np.zeros(90), "context_summaries": ("median",)}, "summaries must"),
    ],
)
def test_bad_context_arguments_are_named_before_any_fit(kwargs, message):
    data = make_multimodal_domains(n_samples=90, random_state=0)
    with pytest.raises(ValueError, match=message):
        evaluate_domain_generalization(
            data.X,
            data.y,
            data.sample_domain,
            data.modalities,
            methods=["linear"],
            verbose=0,
            **kwargs,
        )


def test_a_method_registered_in_one_place_runs_through_the_protocol():
    # Adding a method is one register_method call: its estimator, its grid, its place in the
    # tables, its complexity for the recommendation and its cost for the schedule.
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_seqinv.evaluation import Method, _methods, register_method
    from sklearn_seqinv.evaluation._schedule import expected_cost

    def build(modalities, task, max_epochs, random_state):
        return make_pipeline(StandardScaler(), RidgeClassifier()), {
            "ridgeclassifier__alpha": [0.1, 10.0]
        }

    saved = dict(_methods._REGISTRY)
    try:
        register_method(
            "ridge_classifier", Method("RidgeClassifier, alpha searched", build, 1, cost=0.5)
        )
        data = make_multimodal_domains(n_samples=150, random_state=0)
        results = evaluate_domain_generalization(
            data.X,
            data.y,
            data.sample_domain,
            data.modalities,
            methods=["linear", "ridge_classifier"],
            protocols=("leave_one_domain_out",),
            verbose=0,
        )
        assert {r["method"] for r in results["summary"]} == {"linear", "ridge_classifier"}
        chosen = [c for c in results["chosen"] if c["method"] == "ridge_classifier"]
        assert chosen and all(c["ridgeclassifier__alpha"] in (0.1, 10.0) for c in chosen)
        assert expected_cost([("p", ["a", "b"], [], "ridge_classifier")]) == 1.0
        assert _methods.method_complexity("ridge_classifier") == 1
    finally:
        _methods._REGISTRY.clear()
        _methods._REGISTRY.update(saved)
    with pytest.raises(ValueError, match="must be a non-empty str"):
        register_method("x+context", Method("", build, 1))
