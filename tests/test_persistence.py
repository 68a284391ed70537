"""Persistence: pickle round trips, safe save/load without unpickling, all-or-nothing fits."""

import pickle
import signal

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sklearn_seqinv import (
    InvariantMaskSelector,
    SequentialModalityClassifier,
    SequentialModalityRegressor,
)
from sklearn_seqinv.persistence import load, save


def _meta(data, cls=SequentialModalityClassifier, **kw):
    return cls(
        [
            (n, InvariantMaskSelector(max_epochs=5, random_state=0), data.modalities[n])
            for n in ("text", "video")
        ],
        **kw,
    )


def test_safe_save_load_round_trip_of_a_selector(tmp_path, fitted_selector, domains):
    save(fitted_selector, tmp_path / "sel.pt")
    restored = load(tmp_path / "sel.pt")
    np.testing.assert_array_equal(restored.predict(domains.X), fitted_selector.predict(domains.X))
    np.testing.assert_allclose(
        restored.predict_proba(domains.X), fitted_selector.predict_proba(domains.X)
    )
    np.testing.assert_array_equal(restored.get_support(), fitted_selector.get_support())
    assert restored.get_params() == fitted_selector.get_params()
    assert len(restored.history_) == len(fitted_selector.history_)


def test_a_file_written_before_the_estimators_moved_still_loads(tmp_path, multimodal):
    model = _meta(multimodal).fit(
        multimodal.X, multimodal.y, sample_domain=multimodal.sample_domain
    )
    save(model, tmp_path / "model.pt")
    data = torch.load(tmp_path / "model.pt", weights_only=True)
    moved = {
        "sklearn_seqinv.meta._sequential:": "sklearn_seqinv._sequential:",
        "sklearn_seqinv.selection._selector:": "sklearn_seqinv._selector:",
    }

    def old_names(value):
        if isinstance(value, dict):
            return {key: old_names(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(old_names(item) for item in value)
        if isinstance(value, str):
            for new, old in moved.items():
                value = value.replace(new, old)
        return value

    old = old_names(data)
    assert "sklearn_seqinv._selector:InvariantMaskSelector" in repr(old)
    torch.save(old, tmp_path / "old.pt")
    restored = load(tmp_path / "old.pt")
    np.testing.assert_array_equal(restored.predict(multimodal.X), model.predict(multimodal.X))


@pytest.mark.parametrize("strategy", ["sequential", "joint", "independent"])
def test_safe_save_load_round_trip_of_the_meta_estimators(tmp_path, multimodal, strategy):
    model = _meta(multimodal, strategy=strategy).fit(
        multimodal.X, multimodal.y, sample_domain=multimodal.sample_domain
    )
    save(model, tmp_path / "model.pt")
    restored = load(tmp_path / "model.pt")
    np.testing.assert_array_equal(restored.predict(multimodal.X), model.predict(multimodal.X))
    np.testing.assert_array_equal(restored.transform(multimodal.X), model.transform(multimodal.X))
    assert list(restored.get_feature_names_out()) == list(model.get_feature_names_out())


def test_safe_save_of_a_regressor_and_an_unfitted_estimator(tmp_path, make_two_modalities):
    data = make_two_modalities(0, n_samples=200, n_domains=2, task="regression")
    model = _meta(data, cls=SequentialModalityRegressor).fit(data.X, data.y)
    save(model, tmp_path / "reg.pt")
    np.testing.assert_allclose(load(tmp_path / "reg.pt").predict(data.X), model.predict(data.X))
    save(_meta(data), tmp_path / "unfitted.pt")
    assert load(tmp_path / "unfitted.pt").get_params()["text__max_epochs"] == 5


def test_load_refuses_a_pickle_that_would_run_code(tmp_path):
    class Exploit:
        def __reduce__(self):
            import os

            return (os.system, ("touch pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "sklearn_seqinv.persistence/2", "root": Exploit()}, str(path))
    with pytest.raises(ValueError, match="corrupt or unsafe"):
        load(path)
    assert not (tmp_path / "pwned").exists()


def test_save_refuses_parameters_that_need_pickle(tmp_path):
    from skorch.callbacks import EpochTimer

    with pytest.raises(TypeError, match="callbacks"):
        save(InvariantMaskSelector(callbacks=[EpochTimer()]), tmp_path / "x.pt")


def test_pickle_round_trip_of_fitted_and_unfitted_meta(multimodal):
    model = _meta(multimodal).fit(multimodal.X, multimodal.y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(multimodal.X), model.predict(multimodal.X))
    assert pickle.loads(pickle.dumps(clone(model))).get_params(deep=False)["strategy"] == (
        "sequential"
    )


@pytest.fixture(autouse=True)
def _ctrl_c_raises():
    """Ctrl-C as at a terminal: a process started in the background (``cmd &`` in a script,
    ``nohup``) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class _InterruptAt(Callback):
    """Presses Ctrl-C (sends SIGINT to this process) at the end of the given epoch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) >= self.epoch:
            signal.raise_signal(signal.SIGINT)


def test_interrupted_fit_leaves_an_unfitted_estimator_unfitted(small_domains):
    selector = InvariantMaskSelector(max_epochs=10, callbacks=[("stop", _InterruptAt(3))])
    with pytest.raises(KeyboardInterrupt):
        selector.fit(small_domains.X, small_domains.y)
    assert not [k for k in vars(selector) if k.endswith("_")]


def test_interrupted_refit_keeps_the_previous_fit(small_domains):
    d = small_domains
    selector = InvariantMaskSelector(max_epochs=4, random_state=0).fit(d.X, d.y)
    gates, net = selector.gates_.copy(), selector.net_
    selector.set_params(callbacks=[("stop", _InterruptAt(2))], max_epochs=10)
    with pytest.raises(KeyboardInterrupt):
        selector.fit(d.X[:, :5], d.y)
    assert selector.net_ is net and selector.n_features_in_ == d.X.shape[1]
    np.testing.assert_array_equal(selector.gates_, gates)


def test_interrupted_meta_fit_is_all_or_nothing(multimodal):
    model = SequentialModalityClassifier(
        [
            ("text", InvariantMaskSelector(max_epochs=3), multimodal.modalities["text"]),
            (
                "video",
                InvariantMaskSelector(max_epochs=9, callbacks=[("stop", _InterruptAt(2))]),
                multimodal.modalities["video"],
            ),
        ]
    )
    with pytest.raises(KeyboardInterrupt):
        model.fit(multimodal.X, multimodal.y)
    assert not hasattr(model, "modalities_") and not hasattr(model, "n_features_in_")


def test_grid_search_reports_a_failing_candidate_and_keeps_the_others(small_domains):
    d = small_domains
    pipe = make_pipeline(InvariantMaskSelector(max_epochs=3, random_state=0), LogisticRegression())
    grid = GridSearchCV(
        pipe,
        {"invariantmaskselector__threshold": [0.5, 7.0]},
        cv=LeaveOneGroupOut(),
        error_score=np.nan,
    )
    with pytest.warns(FitFailedWarning):
        grid.fit(
            d.X, d.y, groups=d.sample_domain, invariantmaskselector__sample_domain=d.sample_domain
        )
    scores = grid.cv_results_["mean_test_score"]
    assert np.isfinite(scores[0]) and np.isnan(scores[1])
    assert grid.best_params_ == {"invariantmaskselector__threshold": 0.5}


def test_a_net_pickled_with_device_cuda_loads_on_a_cpu_only_machine(fitted_selector, domains):
    # Stands in for a GPU-fitted model: skorch records the device in the pickle and maps the
    # tensors to the CPU when CUDA is absent where it is unpickled.
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    gpu_like = pickle.loads(pickle.dumps(fitted_selector))
    gpu_like.device = gpu_like.net_.device = "cuda"
    with pytest.warns(UserWarning, match="(?i)cuda"):
        restored = pickle.loads(pickle.dumps(gpu_like))
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.predict(domains.X), fitted_selector.predict(domains.X))


def _fitted_attributes(estimator):
    return {k for k in vars(estimator) if k.endswith("_") and not k.startswith("__")}


def test_every_fitted_attribute_survives_a_safe_round_trip(tmp_path, multimodal):
    model = _meta(multimodal).fit(
        multimodal.X, multimodal.y, sample_domain=multimodal.sample_domain
    )
    save(model, tmp_path / "model.pt")
    restored = load(tmp_path / "model.pt")
    assert _fitted_attributes(restored) == _fitted_attributes(model)
    for (_, ours, _), (_, theirs, _) in zip(model.modalities_, restored.modalities_):
        assert _fitted_attributes(theirs) == _fitted_attributes(ours)
        assert set(vars(theirs)) == set(vars(ours))  # private state (e.g. _y_ndim) too
    # Objects shared in the model stay shared after loading.
    assert restored.named_modalities_.text is restored.modalities_[0][1]


def test_pipelines_and_column_transformers_save_and_load(tmp_path, multimodal):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    d = multimodal
    columns = ColumnTransformer(
        [("text", StandardScaler(), d.modalities["text"])], remainder="passthrough"
    )
    pipe = make_pipeline(columns, InvariantMaskSelector(max_epochs=5, random_state=0))
    pipe.fit(d.X, d.y, invariantmaskselector__sample_domain=d.sample_domain)
    save(pipe, tmp_path / "pipe.pt")
    restored = load(tmp_path / "pipe.pt")
    np.testing.assert_array_equal(restored.predict(d.X), pipe.predict(d.X))
    meta = make_pipeline(StandardScaler(), _meta(d), LogisticRegression())
    meta.fit(d.X, d.y, sequentialmodalityclassifier__sample_domain=d.sample_domain)
    save(meta, tmp_path / "meta.pt")
    np.testing.assert_array_equal(load(tmp_path / "meta.pt").predict(d.X), meta.predict(d.X))


def test_save_and_load_refuse_untrusted_types(tmp_path):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import FunctionTransformer

    with pytest.raises(TypeError, match="got RandomForestClassifier"):
        save(RandomForestClassifier(), tmp_path / "rf.pt")
    with pytest.raises(TypeError, match=r"Pipeline\.steps\[1\]\[1\] is a .*RandomForest"):
        save(make_pipeline(LogisticRegression(), RandomForestClassifier()), tmp_path / "p.pt")
    with pytest.raises(TypeError, match="FunctionTransformer"):
        save(make_pipeline(FunctionTransformer(np.log1p)), tmp_path / "f.pt")
    # A file naming a class outside the trusted list is refused at load time.
    save(make_pipeline(LogisticRegression()), tmp_path / "ok.pt")
    content = torch.load(str(tmp_path / "ok.pt"), weights_only=True)
    content["root"]["object"] = "os:system"
    torch.save(content, str(tmp_path / "bad.pt"))
    with pytest.raises(ValueError, match="not a trusted type"):
        load(tmp_path / "bad.pt")


def test_metadata_requests_are_saved_as_data_and_restored(tmp_path):
    # set_*_request stores a MetadataRequest on the estimator: a routed Pipeline must save.
    import sklearn

    from sklearn_seqinv import DomainCenterer

    with sklearn.config_context(enable_metadata_routing=True):
        centerer = DomainCenterer().set_fit_request(sample_domain=True)
        centerer.set_transform_request(sample_domain="domain")
        path = tmp_path / "centerer.pt"
        save(centerer, path)
        loaded = load(path)
        assert loaded.get_metadata_routing().fit.requests == {"sample_domain": True}
        assert loaded.get_metadata_routing().transform.requests == {"sample_domain": "domain"}
