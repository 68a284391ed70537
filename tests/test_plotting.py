"""Display objects draw what they are given."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from sklearn_seqinv.plotting import DomainScoresDisplay, GateDisplay


def test_gate_display_from_a_fitted_meta_estimator(multimodal):
    from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier

    model = SequentialModalityClassifier(
        [
            (name, InvariantMaskSelector(max_epochs=5, random_state=0), multimodal.modalities[name])
            for name in ("text", "video")
        ]
    ).fit(multimodal.X, multimodal.y)
    display = GateDisplay.from_estimator(model).plot()
    assert len(display.axes_) == 2
    chosen = model.named_modalities_.text.get_support().sum()
    texts = [t.get_text() for t in display.axes_[0].get_legend().get_texts()]
    width = len(multimodal.modalities["text"])
    assert sorted(texts) == ["gate threshold", "not selected", f"selected ({chosen} of {width})"]
    ticks = display.axes_[1].get_xticks()
    assert np.allclose(ticks, np.round(ticks))  # whole column numbers only


def test_domain_scores_display_from_results():
    results = {
        "task": "classification",
        "records": [
            {
                "protocol": "leave_one_domain_out",
                "method": "m",
                "sources": ["b"],
                "target": "a",
                "accuracy": 0.6,
            },
            {
                "protocol": "leave_one_domain_out",
                "method": "m",
                "sources": ["a"],
                "target": "b",
                "accuracy": 0.8,
            },
        ],
    }
    display = DomainScoresDisplay.from_results(results).plot()
    heights = sorted(p.get_height() for p in display.ax_.patches)
    np.testing.assert_allclose(heights, [0.6, 0.8])
    with pytest.raises(ValueError, match="no 'single_source' record"):
        DomainScoresDisplay.from_results(results, protocol="single_source")


def test_mask_stability_display_from_refits_and_from_results(domains):
    from sklearn_seqinv import InvariantMaskSelector
    from sklearn_seqinv.plotting import MaskStabilityDisplay

    display = MaskStabilityDisplay.from_estimator(
        InvariantMaskSelector(max_epochs=5),
        domains.X,
        domains.y,
        sample_domain=domains.sample_domain,
        seeds=(0,),
    ).plot()
    assert display.n_refits == 3
    assert display.axes_[0].get_title().startswith("X: Jaccard")
    share = np.array([1.0, 0.5, 0.0])
    results = {
        "gates": {"text_first": {"text": {"selected_share": share, "jaccard": 0.5, "n_folds": 4}}}
    }
    display = MaskStabilityDisplay.from_results(results).plot()
    heights = sorted(p.get_height() for p in display.axes_[0].patches)
    assert heights == [0.0, 0.5, 1.0]
    assert "over 4 refits" in display.axes_[0].get_title()


def test_wide_panels_draw_one_outline_per_colour_with_the_same_heights():
    # Hundreds of columns: one filled step outline per colour instead of a bar per column,
    # the same heights where the column is shown and nothing elsewhere.
    gates = np.linspace(0.0, 1.0, 300)
    chosen = gates > 0.5
    display = GateDisplay({"text": gates}, {"text": chosen}).plot()
    ax = display.axes_[0]
    outlines = [p for p in ax.patches if type(p).__name__ == "StepPatch"]
    assert len(outlines) == 2 and len(ax.patches) == 2
    selected = next(
        p for p in outlines if "selected" in p.get_label() and "not" not in p.get_label()
    )
    np.testing.assert_allclose(selected.get_data().values, np.where(chosen, gates, 0.0))
    assert f"({chosen.sum()} of 300)" in selected.get_label()
