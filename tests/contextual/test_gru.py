"""The contextual GRU head: context from the other rows of a group, read in order."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import ContextGRUClassifier, ContextGRURegressor
from sklearn_seqinv.exceptions import SeqinvWarning


def _videos(seed, n_videos=60, length=6, noise=2.0):
    """Each video holds one sentiment; each utterance shows it through heavy noise, so a
    row alone is a poor guess and its video's other rows are the evidence."""
    rng = np.random.default_rng(seed)
    video = np.repeat(np.arange(n_videos), length)
    mood = rng.integers(0, 2, n_videos)[video]
    X = (mood - 0.5)[:, None] + noise * rng.standard_normal((len(video), 4))
    order = np.tile(np.arange(length), n_videos)
    return X, mood, video, order


@pytest.fixture(scope="module")
def videos():
    return _videos(0), _videos(1)


@pytest.fixture(scope="module")
def fitted(videos):
    (X, y, video, order), _ = videos
    model = ContextGRUClassifier(hidden_units=16, max_epochs=40, random_state=0)
    return model.fit(X, y, sample_group=video, sample_order=order)


def test_the_other_rows_of_a_video_raise_accuracy_on_new_videos(videos, fitted):
    _, (X, y, video, order) = videos
    with pytest.warns(SeqinvWarning, match="no sample_group"):
        alone = ContextGRUClassifier(hidden_units=16, max_epochs=40, random_state=0).fit(
            *videos[0][:2]
        )
    in_context = fitted.score(X, y, sample_group=video, sample_order=order)
    assert in_context > alone.score(X, y) + 0.1
    assert in_context > 0.8


def test_a_rows_prediction_does_not_depend_on_row_order_or_other_videos(videos, fitted):
    _, (X, _, video, order) = videos
    proba = fitted.predict_proba(X, sample_group=video, sample_order=order)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    shuffled = np.random.default_rng(0).permutation(len(X))
    again = fitted.predict_proba(
        X[shuffled], sample_group=video[shuffled], sample_order=order[shuffled]
    )
    np.testing.assert_allclose(again, proba[shuffled], atol=1e-10)
    one = video == 3
    alone = fitted.predict_proba(X[one], sample_group=video[one], sample_order=order[one])
    np.testing.assert_allclose(alone, proba[one], atol=1e-10)


def test_the_order_within_a_video_is_read(videos, fitted):
    _, (X, _, video, order) = videos
    forwards = fitted.predict_proba(X, sample_group=video, sample_order=order)
    backwards = fitted.predict_proba(X, sample_group=video, sample_order=-order)
    assert not np.allclose(forwards, backwards)


def test_bad_groups_get_clear_errors(videos, fitted):
    _, (X, _, video, order) = videos
    with pytest.raises(ValueError, match="needs it to predict too"):
        fitted.predict(X)
    with pytest.raises(ValueError, match="sample_group has shape"):
        fitted.predict(X, sample_group=video[:-1])
    repeated = order.copy()
    repeated[1] = repeated[0]
    with pytest.raises(ValueError, match="sample_order repeats"):
        fitted.predict(X, sample_group=video, sample_order=repeated)
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(np.full_like(X, np.nan), sample_group=video)
    with pytest.raises(ValueError, match="4 features"):
        fitted.predict(X[:, :3], sample_group=video)


def test_a_pipeline_routes_the_groups_to_fit_predict_and_score(videos):
    (X, y, video, order), (X_new, y_new, video_new, order_new) = videos
    with sklearn.config_context(enable_metadata_routing=True):
        head = ContextGRUClassifier(hidden_units=16, max_epochs=40, random_state=0)
        head.set_fit_request(sample_group="video", sample_order=True)
        head.set_predict_request(sample_group="video", sample_order=True)
        head.set_score_request(sample_group="video", sample_order=True)
        pipe = make_pipeline(StandardScaler(), head)
        pipe.fit(X, y, video=video, sample_order=order)
        score = pipe.score(X_new, y_new, video=video_new, sample_order=order_new)
        predicted = pipe.predict(X_new, video=video_new, sample_order=order_new)
    assert score > 0.8
    assert np.mean(predicted == y_new) == pytest.approx(score)


def test_the_regressor_predicts_a_videos_shared_score_from_its_rows(videos):
    (X, y, video, order), (X_new, y_new, video_new, order_new) = videos
    score = 3.0 * y - 1.5
    model = ContextGRURegressor(hidden_units=16, max_epochs=40, random_state=0)
    model.fit(X, score, sample_group=video, sample_order=order)
    r2 = model.score(X_new, 3.0 * y_new - 1.5, sample_group=video_new, sample_order=order_new)
    assert r2 > 0.4
    two = model.fit(X, np.c_[score, -score], sample_group=video).predict(X, sample_group=video)
    assert two.shape == (len(X), 2)


@pytest.mark.parametrize("how", ["persistence", "pickle"])
def test_a_saved_head_predicts_as_the_fitted_one(videos, fitted, tmp_path, how):
    import pickle

    from sklearn_seqinv.persistence import load, save

    _, (X, y, video, order) = videos
    regressor = ContextGRURegressor(hidden_units=8, max_epochs=3, random_state=0)
    regressor.fit(X, np.c_[y, -y], sample_group=video)
    for model in (fitted, regressor):
        if how == "persistence":
            save(model, tmp_path / "head.pt")
            restored = load(tmp_path / "head.pt")
        else:
            restored = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(
            restored.predict(X, sample_group=video, sample_order=order),
            model.predict(X, sample_group=video, sample_order=order),
        )
        assert restored.get_params() == model.get_params()
        assert len(restored.history_) == len(model.history_)
    with pytest.raises(ValueError, match="needs it to predict too"):
        restored.predict(X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_head_trained_on_cuda_loads_on_the_cpu_with_a_warning(videos, fitted):
    from sklearn_seqinv.exceptions import DeviceFallbackWarning

    _, (X, _, video, order) = videos
    state = fitted.__getstate__()
    state["net_"]["device"] = "cuda:0"  # as a GPU-trained head's state says
    restored = ContextGRUClassifier.__new__(ContextGRUClassifier)
    with pytest.warns(DeviceFallbackWarning, match="loaded on the CPU"):
        restored.__setstate__(state)
    assert restored.net_.device.type == "cpu"
    np.testing.assert_array_equal(
        restored.predict(X, sample_group=video, sample_order=order),
        fitted.predict(X, sample_group=video, sample_order=order),
    )
