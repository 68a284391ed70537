"""GroupContext: the other rows of each row's group, as columns a stage can select."""

import numpy as np
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_seqinv import GroupContext, persistence
from sklearn_seqinv.exceptions import SeqinvWarning

X = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0], [7.0, 70.0], [100.0, 0.0]])
GROUP = np.array(["a", "a", "a", "a", "b"])


def test_leave_self_out_mean_by_hand():
    context = GroupContext(passthrough=False).fit(X, sample_group=GROUP)
    out = context.transform(X, sample_group=GROUP)
    # Row 0's context is the mean of rows 1-3 of its group; row 4 is alone in "b".
    expected = [
        [(3 + 5 + 7) / 3, (30 + 50 + 70) / 3],
        [(1 + 5 + 7) / 3, (10 + 50 + 70) / 3],
        [(1 + 3 + 7) / 3, (10 + 30 + 70) / 3],
        [(1 + 3 + 5) / 3, (10 + 30 + 50) / 3],
        X.mean(axis=0),  # alone: the training column means
    ]
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(context.fill_values_, X.mean(axis=0))


def test_previous_and_next_windows_follow_the_given_order():
    # The rows arrive shuffled; sample_order puts group "a" in the order 3, 0, 2, 1.
    order = np.array([1, 3, 2, 0, 0])
    context = GroupContext(summaries=("previous", "next"), window=2, passthrough=False)
    out = context.fit_transform(X, sample_group=GROUP, sample_order=order)
    fill = X.mean(axis=0)
    # In order: row 3 (7), row 0 (1), row 2 (5), row 1 (3).
    previous = {3: fill, 0: X[3], 2: (X[3] + X[0]) / 2, 1: (X[0] + X[2]) / 2, 4: fill}
    following = {3: (X[0] + X[2]) / 2, 0: (X[2] + X[1]) / 2, 2: X[1], 1: fill, 4: fill}
    for row in range(5):
        np.testing.assert_allclose(out[row, :2], previous[row])
        np.testing.assert_allclose(out[row, 2:], following[row])


def test_columns_and_modalities_name_the_context_blocks():
    context = GroupContext(summaries=("mean", "next"), columns=[1]).fit(X, sample_group=GROUP)
    out = context.transform(X, sample_group=GROUP)
    assert out.shape == (5, 2 + 2)
    np.testing.assert_array_equal(out[:, :2], X)
    modalities = context.context_modalities({"text": [1], "audio": [0]}, n_features=2)
    assert {k: v.tolist() for k, v in modalities.items()} == {
        "text": [1],
        "audio": [0],
        "text_context": [2, 3],
    }
    names = context.get_feature_names_out().tolist()
    assert names == ["x0", "x1", "mean_of_x1", "next_of_x1"]


def test_a_new_group_at_predict_time_is_summarized_from_its_own_rows():
    context = GroupContext(passthrough=False).fit(X, sample_group=GROUP)
    new = np.array([[2.0, 0.0], [4.0, 8.0]])
    out = context.transform(new, sample_group=["z", "z"])
    np.testing.assert_allclose(out, [[4.0, 8.0], [2.0, 0.0]])


def test_missing_values_are_skipped_and_a_row_with_none_gets_the_fill():
    Xn = X.copy()
    Xn[1, 0] = np.nan
    context = GroupContext(passthrough=False).fit(Xn, sample_group=GROUP)
    out = context.transform(Xn, sample_group=GROUP)
    assert out[0, 0] == pytest.approx((5 + 7) / 2)  # row 1's NaN is not a value
    assert np.isfinite(out).all()
    assert context.fill_values_[0] == pytest.approx(np.nanmean(Xn[:, 0]))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=2, max_size=30),
    st.integers(0, 2**16),
)
def test_a_row_never_enters_its_own_context_and_row_order_does_not_matter(groups, seed):
    rng = np.random.default_rng(seed)
    groups = np.array(groups)
    data = rng.standard_normal((len(groups), 3))
    context = GroupContext(passthrough=False).fit(data, sample_group=groups)
    out = context.transform(data, sample_group=groups)
    changed = data.copy()
    changed[0] += 1000.0  # row 0's own value moves: its context does not
    assert np.allclose(context.transform(changed, sample_group=groups)[0], out[0])
    permutation = rng.permutation(len(groups))
    shuffled = context.transform(data[permutation], sample_group=groups[permutation])
    np.testing.assert_allclose(shuffled, out[permutation])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample_group": ["a"] * 4}, r"sample_group has shape \(4,\); expected \(5,\)"),
        ({"sample_group": GROUP, "sample_order": [0, 1, 1, 2, 0]}, "repeats the value 1"),
        ({"sample_group": [None, "a", "a", "a", "b"]}, "holds None"),
        ({"sample_group": [0.0, np.nan, 1.0, 1.0, 1.0]}, "NaN or infinity"),
    ],
)
def test_hostile_groups_are_refused_with_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GroupContext(summaries=("mean", "previous")).fit_transform(X, **kwargs)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"summaries": ("median",)}, "summaries must be"),
        ({"summaries": ()}, "summaries must be"),
        ({"columns": [0, 2]}, r"columns must be distinct indices in \[0, 2\)"),
        ({"columns": [0.5]}, "columns must be a non-empty 1-D array"),
    ],
)
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        GroupContext(**params).fit(X, sample_group=GROUP)


def test_fitted_with_groups_it_needs_them_at_transform():
    context = GroupContext().fit(X, sample_group=GROUP)
    with pytest.raises(ValueError, match="needs it at transform"):
        context.transform(X)
    with pytest.warns(SeqinvWarning, match="every row is its own group"):
        alone = GroupContext(passthrough=False).fit(X)
    np.testing.assert_allclose(alone.transform(X), np.tile(X.mean(axis=0), (5, 1)))


def test_a_pipeline_routes_the_groups_to_transform_at_predict(tmp_path):
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 5)
    mood = rng.standard_normal(40)[groups]  # shared by the utterances of a video
    y = (mood + 0.5 * rng.standard_normal(200) > 0).astype(int)
    data = (mood + rng.standard_normal(200))[:, None]
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            GroupContext()
            .set_fit_request(sample_group=True)
            .set_transform_request(sample_group=True),
            LogisticRegression(),
        )
        pipe.fit(data, y, sample_group=groups)
        alone = LogisticRegression().fit(data, y)
        assert pipe.score(data, y, sample_group=groups) > alone.score(data, y)
        path = tmp_path / "context.skops"
        persistence.save(pipe, path)
        again = persistence.load(path)
        np.testing.assert_array_equal(
            again.predict(data, sample_group=groups), pipe.predict(data, sample_group=groups)
        )


def test_the_context_is_a_stage_of_a_sequential_classifier_in_a_routed_pipeline():
    # The documented pipeline: the groups travel under an alias, so that the selectors do
    # not take them as sub-groups; the stages are the modalities, each with its context.
    from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier
    from sklearn_seqinv.datasets import make_multimodal_domains

    data = make_multimodal_domains(n_samples=240, random_state=0)
    videos = np.arange(240) // 4
    order = np.arange(240) % 4
    with sklearn.config_context(enable_metadata_routing=True):
        context = GroupContext(columns=data.modalities["text"])
        context.set_fit_request(sample_group="context_group", sample_order=True)
        context.set_transform_request(sample_group="context_group", sample_order=True)
        stages = context.context_modalities(data.modalities, data.X.shape[1])
        assert list(stages)[:2] == ["text", "text_context"]
        model = make_pipeline(
            context,
            SequentialModalityClassifier(
                [
                    (name, InvariantMaskSelector(max_epochs=10, random_state=0), columns)
                    for name, columns in stages.items()
                ]
            ),
        )
        model.fit(
            data.X,
            data.y,
            sample_domain=data.sample_domain,
            context_group=videos,
            sample_order=order,
        )
        predicted = model.predict(data.X, context_group=videos, sample_order=order)
        assert predicted.shape == data.y.shape
        # Without its groups at predict, the context refuses rather than guesses.
        with pytest.raises(ValueError, match="needs it at transform"):
            model.predict(data.X)
