"""Display objects draw what they are given."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_rgba

from sklearn_seqinv.plotting import DomainScoresDisplay, GateDisplay


def _bar_columns(container):
    """Column numbers of the bars of a BarContainer (narrow panels)."""
    return sorted(round(p.get_x() + p.get_width() / 2) for p in container.patches)


def test_gate_display_red_bars_are_exactly_the_kept_columns(multimodal):
    # One selection rule: a column is red when the fitted estimator keeps it
    # (get_support), whatever its gate; no grey bar is a kept column.
    from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier

    model = SequentialModalityClassifier(
        [
            (name, InvariantMaskSelector(max_epochs=5, random_state=0), multimodal.modalities[name])
            for name in ("text", "video")
        ]
    ).fit(multimodal.X, multimodal.y, sample_domain=multimodal.sample_domain)
    display = GateDisplay.from_estimator(model).plot()
    assert len(display.axes_) == 2
    for ax, name in zip(display.axes_, ("text", "video")):
        support = model.selection_[name].support
        np.testing.assert_array_equal(display.marked_[name], support)
        grey, red = (c for c in ax.containers)
        assert _bar_columns(red) == np.flatnonzero(support).tolist()
        assert not set(_bar_columns(grey)) & set(np.flatnonzero(support))
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert texts == ["not kept", f"kept ({support.sum()} of {len(support)})", "gate"]
        # The legend shows the colours drawn, even for a colour with no bar.
        grey_key, red_key = ax.get_legend().legend_handles[:2]
        assert grey_key.get_facecolor() == to_rgba("lightgray")
        assert red_key.get_facecolor() == to_rgba("tab:red")
    ticks = display.axes_[1].get_xticks()
    assert np.allclose(ticks, np.round(ticks))  # whole column numbers only


def test_gate_display_over_folds_marks_columns_kept_in_more_than_half():
    share = np.array([1.0, 0.75, 0.5, 0.25, 0.0])
    gates = np.array([0.1, 0.9, 0.9, 0.2, 0.6])  # the gate never decides the colour
    results = {
        "gates": {
            "text_first": {
                "text": {
                    "gate_mean": gates,
                    "selected_share": share,
                    "n_folds": 4,
                    "outcomes": ["sparse"] * 3 + ["dense"],
                    "kept": [2, 2, 1, 4],
                    "jaccard": 0.5,
                    "dense_folds": 1,
                    "none_folds": 0,
                }
            }
        }
    }
    display = GateDisplay.from_results(results).plot()
    ax = display.axes_[0]
    np.testing.assert_array_equal(display.marked_["text"], [True, True, False, False, False])
    grey, red = ax.containers
    assert _bar_columns(red) == [0, 1]
    assert sorted(p.get_height() for p in red.patches) == [0.75, 1.0]
    assert all(p.get_height() <= 0.5 for p in grey.patches)
    line = next(ln for ln in ax.get_lines() if ln.get_label() == "half the fits")
    assert line.get_ydata()[0] == 0.5
    title = ax.get_title(loc="left")
    assert "real selection in 3 of 4 (Jaccard 0.50 over those)" in title
    assert "dense candidate won in 1 of 4 (kept 4 of 5: every column that passes" in title


def test_domain_scores_display_starts_near_the_data_and_spells_out_the_metric():
    records = [
        {"protocol": "single_source", "method": "m", "sources": [s], "target": t, "has0_acc2": v}
        for s, t, v in [("a", "b", 0.80), ("c", "b", 0.84), ("a", "c", 0.78), ("b", "c", 0.82)]
    ]
    results = {"task": "regression", "records": records}
    display = DomainScoresDisplay.from_results(results, protocol="single_source").plot()
    ax = display.ax_
    assert ax.get_ylabel() == "accuracy, 2 classes (score >= 0 positive)"
    low, high = ax.get_ylim()
    assert 0.7 < low < 0.78 and 0.84 < high < 0.9
    assert any("not 0" in t.get_text() for t in ax.texts)
    # Grouped by target domain: one entry per target (mean over sources, range as a line).
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["b", "c", "mean"]
    with pytest.raises(ValueError, match="no 'leave_one_domain_out' record"):
        DomainScoresDisplay.from_results(results)


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
    results["gates"]["text_first"]["text"]["jaccard"] = None  # no two real selections
    display = MaskStabilityDisplay.from_results(results).plot()
    assert "no two real selections" in display.axes_[0].get_title()


def test_wide_panels_show_only_the_kept_columns_under_a_summary():
    # 768 text columns as bars are unreadable: a wide panel draws the columns kept in at
    # least one fit, labelled with their column numbers, and how many each fit kept.
    share = np.zeros(768)
    share[[3, 40, 700]] = [1.0, 0.75, 0.25]
    results = {
        "gates": {
            "text_first": {
                "text": {
                    "gate_mean": share,
                    "selected_share": share,
                    "n_folds": 4,
                    "kept": [3, 2, 1, 2],
                    "outcomes": ["sparse"] * 4,
                },
                "video": {
                    "gate_mean": np.ones(100),
                    "selected_share": np.ones(100),
                    "n_folds": 4,
                    "kept": [100] * 4,
                    "outcomes": ["dense"] * 4,
                },
            }
        }
    }
    display = GateDisplay.from_results(results).plot()
    text, video = display.axes_
    grey, red = text.containers
    assert len(red.patches) == 2 and len(grey.patches) == 1
    assert [t.get_text() for t in text.get_xticklabels()] == ["3", "40", "700"]
    assert "kept per fit: 3, 2, 1, 2 of 768" in text.get_title(loc="left")
    np.testing.assert_array_equal(np.flatnonzero(display.marked_["text"]), [3, 40])
    assert not video.patches
    assert [t.get_text() for t in video.texts] == ["every one of the 100 columns kept in every fit"]
    assert "kept per fit: 100, 100, 100, 100 of 100" in video.get_title(loc="left")


def test_corruption_table_and_plot_give_a_drop_the_same_sign():
    from sklearn_seqinv.evaluation._report import corruption_table
    from sklearn_seqinv.plotting import CorruptionDisplay

    row = {"protocol": "official_split", "method": "erm_coral"}
    results = {
        "task": "classification",
        "summary": [
            {**row, "accuracy_mean": 0.749, "accuracy_worst": 0.7},
            {**row, "corruption": "video:zero", "accuracy_mean": 0.778, "accuracy_worst": 0.7},
            {**row, "corruption": "video:noise", "accuracy_mean": 0.700, "accuracy_worst": 0.6},
        ],
    }
    table = corruption_table(results, "accuracy")
    assert "0.778 (drop -0.029)" in table and "0.700 (drop +0.049)" in table
    assert "positive is a loss" in table
    display = CorruptionDisplay.from_results(results).plot()
    heights = sorted(round(p.get_height(), 3) for p in display.ax_.patches)
    assert heights == [-0.029, 0.049]
    assert display.ax_.get_ylabel() == "drop in mean accuracy from clean"
