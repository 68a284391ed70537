"""SequentialModalityClassifier / Regressor: learning in order, ablations, routing, API."""

import functools
import pickle
import warnings

import numpy as np
import pytest
from sklearn import config_context
from sklearn.compose import make_column_selector
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, LeaveOneGroupOut, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import (
    InvariantMaskSelector,
    SequentialModalityClassifier,
    SequentialModalityRegressor,
)
from sklearn_seqinv.datasets import make_multimodal_domains


def _selector(**params):
    return InvariantMaskSelector(random_state=0, **params)


def _model(data, order=("text", "video"), cls=SequentialModalityClassifier, epochs=100, **kw):
    modalities = [(name, _selector(max_epochs=epochs), data.modalities[name]) for name in order]
    return cls(modalities, **kw)


def test_text_first_beats_erm_and_video_first_on_a_flipped_held_out_domain(make_two_modalities):
    # Training domains 0-2 share the sign of the spurious tie (its strength varies); it flips in
    # held-out domain 3. Video carries little invariant signal of its own, so alone it leans on
    # spurious columns; guided by the selected text it does not.
    scores = {"text_first": [], "video_first": [], "erm": []}
    for seed in range(4):
        data = make_two_modalities(seed, flip_domains=[3], n_redundant={"video": 1})
        train, test = data.sample_domain != 3, data.sample_domain == 3
        models = {
            "text_first": _model(data),
            "video_first": _model(data, order=("video", "text")),
            "erm": _selector(gate=None, invariance=None),
        }
        for name, model in models.items():
            model.fit(data.X[train], data.y[train], sample_domain=data.sample_domain[train])
            scores[name].append(model.score(data.X[test], data.y[test]))
    mean = {name: np.mean(values) for name, values in scores.items()}
    assert mean["text_first"] > mean["erm"] + 0.2
    assert mean["text_first"] > mean["video_first"] + 0.03


def test_each_selector_is_fitted_with_the_earlier_selection_as_guidance(multimodal):
    model = _model(multimodal, epochs=10).fit(
        multimodal.X, multimodal.y, sample_domain=multimodal.sample_domain
    )
    text, video = model.named_modalities_.text, model.named_modalities_.video
    assert text.n_guidance_features_ == 0
    assert video.n_guidance_features_ == text.get_support().sum()
    assert model.final_estimator_ is None


def test_three_modalities_guide_in_order(make_two_modalities):
    data = make_two_modalities(
        0, n_samples=300, n_domains=3, modalities={"text": 12, "audio": 8, "video": 10}
    )
    model = _model(data, order=("text", "audio", "video"), epochs=10)
    model.fit(data.X, data.y, sample_domain=data.sample_domain)
    text, audio, video = (model.named_modalities_[n] for n in ("text", "audio", "video"))
    assert audio.n_guidance_features_ == text.get_support().sum()
    assert video.n_guidance_features_ == text.get_support().sum() + audio.get_support().sum()
    assert model.predict(data.X).shape == data.y.shape


def test_transform_concatenates_selected_columns_with_prefixed_names(multimodal):
    model = _model(multimodal, epochs=10).fit(multimodal.X, multimodal.y)
    names = model.get_feature_names_out()
    Xt = model.transform(multimodal.X)
    assert Xt.shape == (len(multimodal.y), len(names))
    text_names = [n for n in names if n.startswith("text__x")]
    cols = [int(n.split("__x")[1]) for n in text_names]
    np.testing.assert_array_equal(Xt[:, : len(cols)], multimodal.X[:, cols])


def test_dataframe_columns_by_name_and_selector_with_pandas_output(multimodal):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(multimodal.X, columns=multimodal.feature_names)
    model = SequentialModalityClassifier(
        [
            ("text", _selector(max_epochs=5), make_column_selector(pattern="^text_")),
            ("video", _selector(max_epochs=5), [n for n in frame.columns if n.startswith("video")]),
        ]
    ).set_output(transform="pandas")
    out = model.fit(frame, multimodal.y).transform(frame)
    assert list(out.columns) == list(model.get_feature_names_out())
    assert all(c.startswith(("text__text_", "video__video_")) for c in out.columns)


@pytest.mark.parametrize(
    "columns",
    [
        slice(0, 24),
        list(range(24)),
        np.arange(40) < 24,
        make_column_selector(pattern="^text_"),
        slice("text_0", "text_23"),
    ],
    ids=["slice", "indices", "mask", "callable", "name-slice"],
)
def test_column_specifications_select_the_same_columns(multimodal, columns):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(multimodal.X, columns=multimodal.feature_names)
    model = SequentialModalityClassifier(
        [
            ("text", _selector(max_epochs=3), columns),
            ("video", _selector(max_epochs=3), slice(24, None)),
        ]
    ).fit(frame, multimodal.y)
    np.testing.assert_array_equal(model.modalities_[0][2], np.arange(24))


def test_nested_parameters_and_selector_replacement(multimodal):
    model = _model(multimodal, epochs=5)
    model.set_params(text__sparsity=2.0, video=_selector(max_epochs=5, sparsity=0.0))
    params = model.get_params()
    assert params["text__sparsity"] == 2.0
    assert params["video__sparsity"] == 0.0
    model.fit(multimodal.X, multimodal.y)
    assert model.named_modalities_.video.sparsity == 0.0


@pytest.mark.parametrize("strategy", ["joint", "independent"])
def test_ablation_strategies_fit_and_predict(multimodal, strategy):
    model = _model(multimodal, epochs=10, strategy=strategy)
    model.fit(multimodal.X, multimodal.y, sample_domain=multimodal.sample_domain)
    assert model.predict(multimodal.X).shape == multimodal.y.shape
    guidance = [est.n_guidance_features_ for _, est, _ in model.modalities_]
    assert guidance == [0, 0]  # no stage is guided by another: what the ablation removes
    kept = {name: model.selection_[name].support for name, _, _ in model.modalities_}
    selected = model.transform(multimodal.X)
    assert selected.shape[1] == sum(int(k.sum()) for k in kept.values())
    if strategy == "joint":
        # One set of gates over every column: each modality's selection is its slice.
        joint = model.joint_selector_
        assert joint.n_features_in_ == multimodal.X.shape[1]
        for name, _, columns in model.modalities_:
            np.testing.assert_array_equal(joint.get_support()[columns], kept[name])
    else:
        # Each modality selected alone, from its own columns; an ungated head on the union.
        for _, est, columns in model.modalities_:
            assert est.n_features_in_ == len(np.arange(multimodal.X.shape[1])[columns])
        assert model.final_estimator_.gate is None
        assert model.final_estimator_.n_features_in_ == selected.shape[1]


def test_final_estimator_is_fitted_on_selected_features(multimodal):
    model = _model(multimodal, epochs=5, final_estimator=LogisticRegression())
    model.fit(multimodal.X, multimodal.y)
    assert model.final_estimator_.n_features_in_ == model.transform(multimodal.X).shape[1]
    assert model.predict_proba(multimodal.X).shape == (len(multimodal.y), 2)


def test_regressor_predicts_scores(make_two_modalities):
    data = make_two_modalities(0, n_samples=360, n_domains=3, task="regression")
    model = _model(data, cls=SequentialModalityRegressor, epochs=30)
    model.fit(data.X, data.y, sample_domain=data.sample_domain)
    assert model.score(data.X, data.y) > 0.3
    assert not hasattr(model, "predict_proba")


def _pipeline_grid(data):
    pipe = make_pipeline(StandardScaler(), _model(data, epochs=5))
    grid = {
        "sequentialmodalityclassifier__text__sparsity": [0.2, 1.0],
        "sequentialmodalityclassifier__video__sparsity": [0.5],
    }
    return GridSearchCV(pipe, grid, cv=LeaveOneGroupOut())


def test_grid_search_over_both_sparsities_with_routing(multimodal):
    d = multimodal
    with config_context(enable_metadata_routing=True):
        search = _pipeline_grid(d).fit(
            d.X, d.y, groups=d.sample_domain, sample_domain=d.sample_domain
        )
    fitted = search.best_estimator_[-1]
    assert all(len(est.domains_) == 3 for _, est, _ in fitted.modalities_)


def test_grid_search_over_both_sparsities_without_routing(multimodal):
    d = multimodal
    search = _pipeline_grid(d).fit(
        d.X,
        d.y,
        groups=d.sample_domain,
        sequentialmodalityclassifier__sample_domain=d.sample_domain,
    )
    fitted = search.best_estimator_[-1]
    assert all(len(est.domains_) == 3 for _, est, _ in fitted.modalities_)
    assert len(search.cv_results_["params"]) == 2


def test_routing_respects_a_selector_that_declines_sample_domain(multimodal):
    d = multimodal
    with config_context(enable_metadata_routing=True):
        model = SequentialModalityClassifier(
            [
                (
                    "text",
                    _selector(max_epochs=3).set_fit_request(sample_domain=False),
                    slice(0, 24),
                ),
                ("video", _selector(max_epochs=3), slice(24, None)),
            ]
        )
        model.fit(d.X, d.y, sample_domain=d.sample_domain)
    assert len(model.named_modalities_.text.domains_) == 1
    assert len(model.named_modalities_.video.domains_) == 3


def test_cross_validate_by_domain_groups(multimodal):
    d = multimodal
    with config_context(enable_metadata_routing=True):
        result = cross_validate(
            _model(d, epochs=3),
            d.X,
            d.y,
            cv=GroupKFold(n_splits=3),
            params={"groups": d.sample_domain, "sample_domain": d.sample_domain},
        )
    assert len(result["test_score"]) == 3


def test_pickled_pipeline_gives_identical_predictions(multimodal):
    pipe = make_pipeline(StandardScaler(), _model(multimodal, epochs=5))
    pipe.fit(
        multimodal.X,
        multimodal.y,
        sequentialmodalityclassifier__sample_domain=multimodal.sample_domain,
    )
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(multimodal.X), pipe.predict(multimodal.X))
    np.testing.assert_array_equal(
        restored.predict_proba(multimodal.X), pipe.predict_proba(multimodal.X)
    )


@pytest.mark.parametrize(
    ("modalities", "match"),
    [
        ([], "at least one"),
        ([("text", InvariantMaskSelector())], r"\(name, selector, columns\)"),
        (
            [
                ("text", InvariantMaskSelector(), slice(0, 2)),
                ("text", InvariantMaskSelector(), slice(2, 4)),
            ],
            "unique",
        ),
        ([("text", InvariantMaskSelector(), [])], "selects no column"),
        ([("text", InvariantMaskSelector(), [99])], "out of range"),
        ([("text", InvariantMaskSelector(), ["a"])], "DataFrame"),
    ],
    ids=["empty", "pair", "duplicate", "no-column", "out-of-range", "names-on-array"],
)
def test_bad_modalities_raise_clear_errors(multimodal, modalities, match):
    with pytest.raises(ValueError, match=match):
        SequentialModalityClassifier(modalities).fit(multimodal.X, multimodal.y)


def test_joint_strategy_needs_invariant_selectors(multimodal):
    from sklearn.feature_selection import SelectKBest

    model = SequentialModalityClassifier(
        [("text", SelectKBest(k=2), slice(0, 24)), ("video", _selector(), slice(24, None))],
        strategy="joint",
    )
    with pytest.raises(TypeError, match="InvariantMaskSelector for every modality"):
        model.fit(multimodal.X, multimodal.y)


def test_verbose_reports_each_modality(multimodal, capsys):
    _model(multimodal, epochs=2, verbose=1).fit(multimodal.X, multimodal.y)
    out = capsys.readouterr().out
    assert "fitted modality 'text'" in out and "fitted modality 'video'" in out


def test_a_later_modality_without_invariant_columns_adds_nothing(multimodal):
    video = InvariantMaskSelector(
        max_epochs=10, sparsity=1e4, validate_selection=False, random_state=0
    )
    model = SequentialModalityClassifier(
        [
            ("text", _selector(max_epochs=10), multimodal.modalities["text"]),
            ("video", video, multimodal.modalities["video"]),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty-selection or "keeping the strongest" warning
        model.fit(multimodal.X, multimodal.y, sample_domain=multimodal.sample_domain)
    assert model.modality_trust_ == {"text": True, "video": False}
    text = model.named_modalities_.text
    assert model.transform(multimodal.X).shape[1] == text.get_support().sum()
    assert all(name.startswith("text__") for name in model.get_feature_names_out())
    assert model.score(multimodal.X, multimodal.y) > 0.6


def test_guided_video_stage_rejects_ties_that_change_strength_not_sign():
    # The spurious video tie has the same sign in training domains 0-2, with strengths 1.0,
    # 0.75 and 0.5, and flips in held-out domain 3 (a laugh track that goes with positive
    # clips in every training show, more in some); the text holds the true signal.
    spurious_kept, invariant_kept, ours, erm = [], [], [], []
    for seed in range(5):
        data = make_multimodal_domains(
            n_samples=2400,
            n_domains=4,
            modalities={"text": 24, "video": 16},
            n_invariant={"text": 4, "video": 4},
            n_redundant={"video": 0},
            n_spurious={"text": 0, "video": 6},
            flip_domains=[3],
            tie_strengths="spread",
            random_state=seed,
        )
        X = StandardScaler().fit_transform(data.X)
        train, test = data.sample_domain != 3, data.sample_domain == 3
        fit = dict(sample_domain=data.sample_domain[train])
        model = _model(data).fit(X[train], data.y[train], **fit)
        baseline = _selector(gate=None, invariance=None).fit(X[train], data.y[train], **fit)
        video = model.named_modalities_.video
        kept = set(video.get_support(indices=True) + data.modalities["video"][0])
        spurious_kept.append(len(kept & set(data.spurious["video"])))
        invariant_kept.append(len(kept & set(data.invariant["video"])))
        ours.append(model.score(X[test], data.y[test]))
        erm.append(baseline.score(X[test], data.y[test]))
    assert max(spurious_kept) <= 1  # of 6, in every seed
    assert np.mean(invariant_kept) >= 2.5  # of 4 (weak columns: the gates close some)
    assert np.mean(ours) >= np.mean(erm) + 0.05


def _grouped(seed=0, n_samples=480):
    data = make_multimodal_domains(n_samples=n_samples, n_domains=3, n_groups=2, random_state=seed)
    data.X = StandardScaler().fit_transform(data.X)
    return data


def _environments(model):
    return [est.n_environments_ for _, est, _ in model.modalities_]


def test_sample_group_reaches_every_selector_without_routing():
    d = _grouped()
    pipe = make_pipeline(StandardScaler(), _model(d, epochs=3))
    pipe.fit(
        d.X,
        d.y,
        sequentialmodalityclassifier__sample_domain=d.sample_domain,
        sequentialmodalityclassifier__sample_group=d.sample_group,
    )
    assert _environments(pipe[-1]) == [6, 6]  # 3 domains x 2 sub-groups


def test_sample_group_is_routed_through_grid_search_and_cross_validate():
    d = _grouped()
    with config_context(enable_metadata_routing=True):
        search = _pipeline_grid(d).fit(
            d.X,
            d.y,
            groups=d.sample_domain,
            sample_domain=d.sample_domain,
            sample_group=d.sample_group,
        )
        result = cross_validate(
            _model(d, epochs=3),
            d.X,
            d.y,
            cv=LeaveOneGroupOut(),
            params={"groups": d.sample_domain, "sample_group": d.sample_group},
            return_estimator=True,
        )
    # The refit sees 3 domains x 2 sub-groups; each fold its 2 training domains x 2.
    assert _environments(search.best_estimator_[-1]) == [6, 6]
    assert all(_environments(est) == [4, 4] for est in result["estimator"])


def test_grid_search_routes_sample_group_without_routing():
    d = _grouped()
    search = _pipeline_grid(d).fit(
        d.X,
        d.y,
        groups=d.sample_domain,
        sequentialmodalityclassifier__sample_group=d.sample_group,
    )
    # Without sample_domain the environments are the sub-groups alone.
    assert _environments(search.best_estimator_[-1]) == [6, 6]


def test_single_source_sub_groups_beat_erm_where_the_tie_changes_across_them():
    # One source domain with 4 sub-groups whose spurious tie has the same sign and strengths
    # 1.5x to 0.5x; the tie is reversed in some target domains. Without sub-groups the
    # penalty has nothing to compare; with them text-first must beat ERM by 3 points.
    ours, plain, erm = [], [], []
    for seed in range(2):
        d = make_multimodal_domains(n_samples=2400, n_domains=4, n_groups=4, random_state=seed)
        X = StandardScaler().fit_transform(d.X)
        for source in range(4):
            train, test = d.sample_domain == source, d.sample_domain != source
            fit = dict(sample_domain=d.sample_domain[train])
            grouped = dict(fit, sample_group=d.sample_group[train])
            ours.append(_model(d).fit(X[train], d.y[train], **grouped).score(X[test], d.y[test]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # no environments: plain ERM
                plain.append(_model(d).fit(X[train], d.y[train], **fit).score(X[test], d.y[test]))
            baseline = _selector(gate=None, invariance=None).fit(X[train], d.y[train], **fit)
            erm.append(baseline.score(X[test], d.y[test]))
    assert np.mean(ours) >= np.mean(erm) + 0.03, (np.mean(ours), np.mean(plain), np.mean(erm))
    assert np.mean(ours) > np.mean(plain)


def _drop_video(data, fraction, seed=0):
    """A copy of ``data.X`` with the video columns of ``fraction`` of the rows set to NaN."""
    rng = np.random.default_rng(seed)
    missing = rng.random(len(data.y)) < fraction
    X = data.X.copy()
    X[np.ix_(missing, data.modalities["video"])] = np.nan
    return X, missing


def test_rows_without_video_are_predicted_by_the_text_stage(make_two_modalities, monkeypatch):
    import sklearn_seqinv.selection._selector as selector_module

    data = make_two_modalities(seed=1, n_samples=1600)
    train, test = data.sample_domain != 3, data.sample_domain == 3
    X, missing = _drop_video(data, 0.3)
    to_torch = selector_module._as_tensor

    def no_nan(guidance, X, *args, **kwargs):
        assert np.isfinite(guidance).all() and np.isfinite(X).all()
        return to_torch(guidance, X, *args, **kwargs)

    monkeypatch.setattr(selector_module, "_as_tensor", no_nan)
    fit = dict(sample_domain=data.sample_domain[train])
    model = _model(data).fit(X[train], data.y[train], **fit)
    complete = _model(data).fit(data.X[train], data.y[train], **fit)
    text_only = _model(data, order=("text",)).fit(X[train], data.y[train], **fit)
    assert model.n_rows_per_stage_ == {
        "text": train.sum(),
        "video": (train & ~missing).sum(),
    }
    with_video, without = test & ~missing, test & missing
    predicted = model.predict(X[test])
    assert not np.isnan(model.predict_proba(X[test])).any()
    # Rows without video: exactly the text stage's prediction, scored like text alone.
    text = model.named_modalities_.text
    np.testing.assert_array_equal(
        predicted[missing[test]], text.predict(X[without][:, data.modalities["text"]])
    )
    acc = {
        "without, ours": np.mean(predicted[missing[test]] == data.y[without]),
        "without, text only": text_only.score(X[without], data.y[without]),
        "with, ours": np.mean(predicted[~missing[test]] == data.y[with_video]),
        "with, complete data": complete.score(X[with_video], data.y[with_video]),
    }
    assert abs(acc["without, ours"] - acc["without, text only"]) <= 0.02, acc
    assert abs(acc["with, ours"] - acc["with, complete data"]) <= 0.02, acc
    # The selected features of a missing modality stay NaN in transform.
    assert np.isnan(model.transform(X[without])[:, text.get_support().sum() :]).all()


def test_missing_modalities_that_cannot_be_handled_are_refused(multimodal):
    d = multimodal
    X = d.X.copy()
    X[0, d.modalities["video"][0]] = np.nan
    with pytest.raises(ValueError, match="'video' is partly NaN in 1 row"):
        _model(d, epochs=1).fit(X, d.y, sample_domain=d.sample_domain)
    X = d.X.copy()
    X[3, d.modalities["text"]] = np.nan
    with pytest.raises(ValueError, match="1 row\\(s\\) lack the first modality 'text'"):
        _model(d, epochs=1).fit(X, d.y, sample_domain=d.sample_domain)
    X = d.X.copy()
    X[3, d.modalities["video"]] = np.nan
    with pytest.raises(ValueError, match="handled by strategy='sequential'"):
        _model(d, epochs=1, strategy="joint").fit(X, d.y, sample_domain=d.sample_domain)
    model = _model(d, epochs=1).fit(d.X, d.y, sample_domain=d.sample_domain)
    X[3, d.modalities["text"]] = np.nan
    with pytest.raises(ValueError, match="lack the first modality"):
        model.predict(X)


def test_shared_stage_fits_fit_each_repeated_stage_once(multimodal, monkeypatch):
    from sklearn_seqinv.evaluation._schedule import shared_stage_fits

    d = multimodal
    fits = []
    fit = InvariantMaskSelector.fit

    @functools.wraps(fit)  # keeps the signature: the stages still take guidance
    def counted(self, *args, **kwargs):
        fits.append(1)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(InvariantMaskSelector, "fit", counted)

    def both():
        steps = [(n, _selector(max_epochs=10), d.modalities[n]) for n in ("text", "video")]
        first = SequentialModalityClassifier(steps)
        alone = SequentialModalityClassifier(steps, strategy="independent")
        return [m.fit(d.X, d.y, sample_domain=d.sample_domain) for m in (first, alone)]

    apart = both()
    unshared = len(fits)
    with shared_stage_fits():
        shared = both()
    assert len(fits) - unshared == unshared - 1  # the unguided text stage once for both
    for a, s in zip(apart, shared):
        np.testing.assert_array_equal(a.predict_proba(d.X), s.predict_proba(d.X))
    texts = [m.named_modalities_.text for m in shared]
    assert texts[0] is not texts[1]  # each model owns its copy
    np.testing.assert_array_equal(texts[0].gates_, texts[1].gates_)


def test_overlapping_modality_columns_are_refused(small_domains):
    model = SequentialModalityClassifier(
        [("text", _selector(), [0, 1, 2]), ("video", _selector(), [2, 3, 4])]
    )
    with pytest.raises(
        ValueError, match=r"'text' and 'video' share 1 column\(s\) of X \(indices \[2\]\)"
    ):
        model.fit(small_domains.X, small_domains.y, sample_domain=small_domains.sample_domain)


@pytest.mark.parametrize("labels", [["neg", "pos"], ["0", "1"]])
def test_string_labels_given_to_a_regressor_are_refused_by_name(small_domains, labels):
    y = np.asarray(labels)[(small_domains.y > np.median(small_domains.y)).astype(int)]
    model = SequentialModalityRegressor([("text", _selector(task="regression"), [0, 1, 2])])
    with pytest.raises(
        ValueError, match="SequentialModalityRegressor is a regressor: y must hold numeric"
    ):
        model.fit(small_domains.X, y, sample_domain=small_domains.sample_domain)
    with pytest.raises(
        ValueError, match=r"InvariantMaskSelector\(task='regression'\) is a regressor"
    ):
        InvariantMaskSelector(task="regression").fit(small_domains.X, y)


def test_several_target_columns_given_to_the_regressor_are_refused_by_name(small_domains):
    y = np.c_[small_domains.y, -small_domains.y].astype(float)
    model = SequentialModalityRegressor([("text", _selector(task="regression"), [0, 1, 2])])
    with pytest.raises(ValueError, match=r"one score per row; got y of shape \(\d+, 2\)"):
        model.fit(small_domains.X, y, sample_domain=small_domains.sample_domain)
    # A single column is one score per row.
    model.fit(small_domains.X, y[:, :1], sample_domain=small_domains.sample_domain)
    labels = np.c_[small_domains.y > 0, small_domains.y > 1].astype(int)
    classifier = SequentialModalityClassifier([("text", _selector(), [0, 1, 2])])
    with pytest.raises(ValueError, match=r"one label per row; .* MultiOutputClassifier does\)\.$"):
        classifier.fit(small_domains.X, labels, sample_domain=small_domains.sample_domain)


def test_selection_grid_refuses_a_modality_the_estimator_does_not_have():
    from sklearn_seqinv.evaluation import selection_grid

    model = SequentialModalityClassifier([("text", _selector(), [0]), ("video", _selector(), [1])])
    with pytest.raises(
        ValueError, match=r"modalities \['sound'\] that SequentialModalityClassifier does not have"
    ):
        selection_grid(["text", "sound"], estimator=model)
    assert selection_grid(model) == selection_grid(["text", "video"])
    with pytest.raises(ValueError, match="repeats a name"):
        selection_grid(["text", "text"])


def test_an_error_about_column_names_shows_a_few_and_the_count():
    data = make_multimodal_domains(
        n_samples=60, modalities={"text": 100, "video": 10}, random_state=0
    )
    stages = [
        (m, InvariantMaskSelector(max_epochs=2), data.feature_names[data.modalities[m]])
        for m in ("text", "video")
    ]
    with pytest.raises(ValueError) as error:
        SequentialModalityClassifier(stages).fit(data.X, data.y)
    message = str(error.value)
    assert "['text_0', 'text_1', 'text_2', ...; 100 in all]" in message
    assert "np.str_" not in message and "text_99" not in message
    assert message.endswith("needs X as a DataFrame with string column names.")
