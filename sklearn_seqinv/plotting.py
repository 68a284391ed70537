"""Display objects for per-domain scores and learned gates (matplotlib, optional)."""

from dataclasses import dataclass

import numpy as np

from .evaluation._aggregate import primary_metric

__all__ = ["CorruptionDisplay", "DomainScoresDisplay", "GateDisplay", "MaskStabilityDisplay"]


def _pyplot():
    try:
        # The user's backend is left alone: ``plt.show()`` after a display shows it.
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("Plots need matplotlib: pip install 'sklearn-seqinv[plot]'.") from exc
    return plt


def _panels(names, axes):
    """One axis per modality, stacked, unless the caller gives them."""
    if axes is None:
        _, axes = _pyplot().subplots(len(names), 1, figsize=(9, 2.2 * len(names)), squeeze=False)
        axes = axes[:, 0]
    return list(axes)


def _method_gates(results, method):
    """The per-modality gate record of ``method`` in an evaluation's results."""
    if method not in results["gates"]:
        raise ValueError(f"No gates recorded for {method!r}; have {list(results['gates'])}.")
    return results["gates"][method]


def _bar_width(n_columns):
    # Narrow bars on narrow panels keep neighbouring marked columns apart.
    return 0.8 if n_columns <= 100 else 1.0


def _patch(**style):
    from matplotlib.patches import Patch

    return Patch(**style)


def _column_bars(ax, values, shown, **style):
    """One bar per column of ``values`` where ``shown``, from 0 (the column number on x).

    Wide panels (over 100 columns, touching bars) are drawn as one filled step outline:
    the same picture as a bar per column, at a fraction of the drawing time of hundreds of
    rectangles.
    """
    values = np.asarray(values, dtype=float)
    shown = np.asarray(shown, dtype=bool)
    if len(values) <= 100:
        idx = np.arange(len(values))
        return ax.bar(idx[shown], values[shown], width=_bar_width(len(values)), **style)
    edges = np.arange(len(values) + 1) - 0.5
    return ax.stairs(np.where(shown, values, 0.0), edges, fill=True, **style)


def _column_axis(ax, n_columns, handles=None):
    """Shares in [0, 1] over whole column numbers, the legend beside the panel (``handles``
    in the order given: the same in every panel)."""
    from matplotlib.ticker import MaxNLocator

    ax.set_ylim(0, 1.05)
    ax.set_xlim(-0.5, n_columns - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    extra = {} if handles is None else {"handles": handles}
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", **extra)


@dataclass(eq=False)
class CorruptionDisplay:
    """Grouped bars: how much each method's mean score drops under each test-time corruption.

    Parameters
    ----------
    drops : dict of str to dict of str to float
        Method -> corruption (``"video:noise"``) -> clean mean score minus corrupted mean
        score (positive: the corruption hurt).
    metric : str
        Name of the score, for the axis label.
    title : str, default=""
        Figure title.

    Examples
    --------
    >>> display = CorruptionDisplay({"seq": {"video:noise": 0.01, "video:zero": 0.0}},
    ...                             "accuracy")
    >>> display.plot().ax_.get_ylabel()
    'drop in mean accuracy from clean'
    """

    drops: dict
    metric: str
    title: str = ""

    @classmethod
    def from_results(cls, results, metric=None, protocol=None):
        """Build from :func:`~sklearn_seqinv.evaluation.evaluate_domain_generalization`
        results scored with ``corruptions``; ``protocol`` defaults to the first one that
        has corrupted scores."""
        summary = results["summary"]
        corrupted = [r for r in summary if "corruption" in r]
        if not corrupted:
            raise ValueError("The results hold no corrupted scores (run with corruptions=).")
        protocol = protocol or corrupted[0]["protocol"]
        metric = metric or primary_metric(results["task"])
        clean = {
            r["method"]: r[f"{metric}_mean"]
            for r in summary
            if r["protocol"] == protocol and "corruption" not in r
        }
        drops = {}
        for row in corrupted:
            if row["protocol"] == protocol and row["method"] in clean:
                drop = clean[row["method"]] - row[f"{metric}_mean"]
                if metric == "mae":  # a lower error is better: its rise is the loss
                    drop = -drop
                drops.setdefault(row["method"], {})[row["corruption"]] = drop
        return cls(drops, metric, title=f"{protocol.replace('_', ' ')}: test-time corruptions")

    def plot(self, ax=None):
        """Draw the bars; returns ``self`` with ``figure_`` and ``ax_``."""
        plt = _pyplot()
        methods = list(self.drops)
        kinds = list(dict.fromkeys(k for per in self.drops.values() for k in per))
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6, 0.9 * len(methods) + 3), 4))
        width = 0.8 / max(len(kinds), 1)
        x = np.arange(len(methods))
        cmap = plt.get_cmap("tab10")
        for i, kind in enumerate(kinds):
            values = [self.drops[m].get(kind, np.nan) for m in methods]
            ax.bar(x + i * width - 0.4 + width / 2, values, width, label=kind, color=cmap(i % 10))
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(x, methods, rotation=30, ha="right")
        ax.set_ylabel(f"drop in mean {self.metric} from clean")
        ax.set_title(self.title)
        ax.legend(title="corruption", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
        self.ax_, self.figure_ = ax, ax.figure
        self.figure_.tight_layout()
        return self


@dataclass(eq=False)
class DomainScoresDisplay:
    """Points per method: the score of each target domain, with each method's mean.

    Scores are points, not bars: the axis starts near the lowest score (a note in the corner
    says so), which bars would misrepresent. A target scored from several training domains
    (single-source DG) shows the mean over them with their range as a vertical line.

    Parameters
    ----------
    scores : dict of str to dict of str to float or list of float
        Method -> target domain -> score (or the scores from several sources).
    metric : str
        Name of the score (:data:`~sklearn_seqinv.metrics.METRIC_LABELS` spells it out on
        the axis).
    title : str, default=""
        Figure title.
    legend_title : str, default="target domain"
        Title of the legend.

    Examples
    --------
    >>> display = DomainScoresDisplay({"seq": {"a": 0.8, "b": 0.7}}, "accuracy")
    >>> display.plot().ax_.get_ylabel()
    'accuracy'
    """

    scores: dict
    metric: str
    title: str = ""
    legend_title: str = "target domain"

    @classmethod
    def from_results(cls, results, metric=None, protocol="leave_one_domain_out"):
        """Build from :func:`~sklearn_seqinv.evaluation.evaluate_domain_generalization`:
        per method and target domain, the scores of every training domain (set) that was
        scored on it."""
        rows = [
            r for r in results["records"] if r["protocol"] == protocol and "corruption" not in r
        ]
        if not rows:
            raise ValueError(f"The results hold no {protocol!r} record.")
        metric = metric or primary_metric(results["task"])
        scores = {}
        for row in rows:
            scores.setdefault(row["method"], {}).setdefault(row["target"], []).append(row[metric])
        title = protocol.replace("_", " ")
        if any(len(v) > 1 for per in scores.values() for v in per.values()):
            title += ": mean over the training domains, with their range"
        return cls(scores, metric, title=title)

    def plot(self, ax=None):
        """Draw the points; returns ``self`` with ``figure_`` and ``ax_``."""
        from .metrics import METRIC_LABELS

        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6, 0.8 * len(self.scores) + 3), 4))
        methods = list(self.scores)
        targets = sorted({t for per in self.scores.values() for t in per})
        width = 0.6 / max(len(targets), 1)
        x = np.arange(len(methods))
        cmap = plt.get_cmap("tab10" if len(targets) <= 10 else "tab20")
        every = []
        for i, target in enumerate(targets):
            values = [np.atleast_1d(self.scores[m].get(target, np.nan)) for m in methods]
            means = np.array([np.mean(v) for v in values])
            low = means - np.array([np.min(v) for v in values])
            high = np.array([np.max(v) for v in values]) - means
            ax.errorbar(
                x + i * width - 0.3 + width / 2,
                means,
                yerr=[low, high],
                fmt="o",
                color=cmap(i % cmap.N),
                label=str(target),
                capsize=2,
            )
            every += [v for vs in values for v in vs]
        mean = [
            np.nanmean(np.concatenate([np.atleast_1d(v) for v in self.scores[m].values()]))
            for m in methods
        ]
        ax.scatter(x, mean, color="black", marker="D", zorder=3, label="mean")
        finite = np.asarray(every, dtype=float)
        finite = finite[np.isfinite(finite)]
        if len(finite):
            lo, hi = finite.min(), finite.max()
            pad = max(0.05 * (hi - lo), 0.01)
            ax.set_ylim(lo - pad, hi + pad)
            ax.text(
                0.01,
                0.01,
                f"axis from {lo - pad:.2f}, not 0",
                transform=ax.transAxes,
                fontsize="x-small",
                color="dimgray",
            )
        ax.set_xticks(x, methods, rotation=30, ha="right")
        ax.set_ylabel(METRIC_LABELS.get(self.metric, self.metric))
        ax.set_title(self.title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(
            title=self.legend_title,
            fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
        self.ax_, self.figure_ = ax, ax.figure
        self.figure_.tight_layout()
        return self


@dataclass(eq=False)
class GateDisplay:
    """Which columns the fitted estimator keeps, one panel per modality.

    One rule marks a column as selected: the fitted estimator keeps it (``get_support``).
    Over several fits (the folds of an evaluation), each bar is the share of fits that kept
    the column, and a column is red when more than half of them did: the dashed line at 0.5
    is that rule. The gate value (its mean over the fits) is a secondary mark, a dot: a
    column can be kept with a low gate (the dense model won the validation) and dropped
    with an open one (the tie test), so the gate alone never decides the colour.

    Parameters
    ----------
    gates : dict of str to array
        Modality -> gate value per column (its mean over the fits).
    selected : dict of str to array
        Modality -> whether each column was kept (bool, one fit) or the share of fits that
        kept it.
    n_fits : int, default=1
        Number of fits the shares are over.
    notes : dict of str to str or None, default=None
        Modality -> a line for its panel title (what the fits did: a real selection, the
        dense model, nothing kept).
    kept : dict of str to list of int or None, default=None
        Modality -> the columns kept in each fit, for the summary of a wide panel.

    Panels of more than :data:`WIDE_PANEL` columns (text embeddings) would be hundreds of
    unreadable bars: they show only the columns kept in at least one fit, side by side and
    labelled with their column numbers, under a summary of how many each fit kept; a
    modality whose every column was kept in every fit (or none in any) says so in words.

    Attributes
    ----------
    marked_ : dict of str to ndarray of bool
        Modality -> the columns drawn red (set by ``plot``).

    Examples
    --------
    >>> import numpy as np
    >>> display = GateDisplay({"text": np.array([0.0, 1.0])}, {"text": np.array([False, True])})
    >>> display.plot().marked_["text"].tolist()
    [False, True]
    """

    gates: dict
    selected: dict
    n_fits: int = 1
    notes: dict | None = None
    kept: dict | None = None

    @classmethod
    def from_estimator(cls, estimator):
        """From a fitted sequential meta-estimator or an InvariantMaskSelector."""
        if hasattr(estimator, "modalities_"):
            from .evaluation._aggregate import stage_outcomes

            found = estimator.selection_
            said = {
                "sparse": "a real selection",
                "dense": "the dense candidate won (every column that passes the tie test)",
                "open": "every gate stayed open",
                "none": "nothing kept (modality not trusted)",
            }
            return cls(
                {m: s.gates for m, s in found.items()},
                {m: s.support for m, s in found.items()},
                notes={
                    m: f"{said[v['outcome']]}; {v['kept']} of {v['width']} kept"
                    for m, v in stage_outcomes(estimator).items()
                },
            )
        return cls({"X": estimator.gates_}, {"X": estimator.get_support()})

    @classmethod
    def from_results(cls, results, method="text_first"):
        """Over the fits of an evaluation's ``method`` (its leave-one-domain-out folds, or
        the official split's fit): the share of fits that kept each column and the mean
        gate; each panel says what the fits did."""
        found = _method_gates(results, method)
        notes = {}
        for m, v in found.items():
            n = v["n_folds"]

            def of(k, n=n):
                return f" in {k} of {n}" if n > 1 else ""

            said = []
            sparse = v.get("outcomes", []).count("sparse")
            if sparse:
                said.append(f"real selection{of(sparse)}")
                if v.get("jaccard") is not None:
                    said[-1] += f" (Jaccard {v['jaccard']:.2f} over those)"
            if v.get("dense_folds"):
                kept = [k for k, o in zip(v["kept"], v["outcomes"]) if o == "dense"]
                said.append(
                    f"dense candidate won{of(v['dense_folds'])} (kept "
                    + ", ".join(str(k) for k in kept)
                    + f" of {len(v['selected_share'])}: every column that passes the tie test)"
                )
            if v.get("open_folds"):
                said.append(f"every gate open{of(v['open_folds'])}")
            if v.get("none_folds"):
                said.append(f"nothing kept{of(v['none_folds'])}")
            notes[m] = "; ".join(said) or None
        return cls(
            {m: np.asarray(v["gate_mean"]) for m, v in found.items()},
            {m: np.asarray(v["selected_share"]) for m, v in found.items()},
            n_fits=next(iter(found.values()))["n_folds"],
            notes=notes,
            kept={m: v["kept"] for m, v in found.items() if "kept" in v},
        )

    def plot(self, axes=None):
        """Draw one panel per modality; returns ``self`` with ``figure_``, ``axes_`` and
        ``marked_``."""
        names = list(self.gates)
        axes = _panels(names, axes)
        many = self.n_fits > 1
        self.marked_ = {}
        for ax, name in zip(axes, names):
            gates = np.asarray(self.gates[name], dtype=float)
            share = np.asarray(self.selected[name], dtype=float)
            red = share > 0.5
            self.marked_[name] = red
            note = (self.notes or {}).get(name)
            if len(share) > WIDE_PANEL:
                self._wide_panel(ax, name, gates, share, red, note)
                continue
            rule = f"kept in more than half of {self.n_fits} fits" if many else "kept"
            kept = f"{rule} ({red.sum()} of {len(share)})"
            _column_bars(ax, share, ~red, color="lightgray", label="not " + rule)
            _column_bars(ax, share, red, color="tab:red", label=kept)
            # Patches of the colours drawn: an empty bar group's own legend entry has none.
            handles = [
                _patch(color="lightgray", label="not " + rule),
                _patch(color="tab:red", label=kept),
            ]
            idx = np.arange(len(gates))
            (dots,) = ax.plot(
                idx,
                gates,
                ".",
                color="black",
                markersize=2 if len(gates) > 100 else 4,
                label="mean gate" if many else "gate",
            )
            handles.append(dots)
            if many:
                handles.append(
                    ax.axhline(0.5, color="black", lw=0.8, ls="--", label="half the fits")
                )
            ax.set_ylabel("share kept" if many else "kept / gate")
            ax.set_title(f"{name}" + (f": {note}" if note else ""), fontsize="medium", loc="left")
            _column_axis(ax, len(gates), handles)
        if len(self.gates[names[-1]]) <= WIDE_PANEL:
            axes[-1].set_xlabel("column of the modality")
        self.axes_, self.figure_ = list(axes), axes[0].figure
        self.figure_.tight_layout()
        return self

    def _wide_panel(self, ax, name, gates, share, red, note):
        """The columns kept in at least one fit, side by side, under a summary line."""
        width, many = len(share), self.n_fits > 1
        counts = (self.kept or {}).get(name) or [int(red.sum())]
        per_fit = ", ".join(str(k) for k in counts)
        summary = f"kept per fit: {per_fit} of {width}" if many else f"kept {per_fit} of {width}"
        ax.set_title(
            f"{name}: {note + '; ' if note else ''}{summary}", fontsize="medium", loc="left"
        )
        shown = np.flatnonzero(share > 0)
        if not len(shown) or (len(shown) == width and np.all(share == 1.0)):
            said = "no column" if not len(shown) else f"every one of the {width} columns"
            where = "in any fit" if not len(shown) else ("in every fit" if many else "")
            ax.text(
                0.5,
                0.5,
                f"{said} kept {where}".strip(),
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
            ax.set_xticks([])
            ax.set_yticks([])
            return
        pos = np.arange(len(shown))
        marked = red[shown]
        rule = f"kept in more than half of {self.n_fits} fits" if many else "kept"
        ax.bar(pos[~marked], share[shown][~marked], width=0.8, color="lightgray")
        ax.bar(pos[marked], share[shown][marked], width=0.8, color="tab:red")
        (dots,) = ax.plot(pos, gates[shown], ".", color="black", markersize=4)
        handles = [
            _patch(color="lightgray", label="not " + rule),
            _patch(color="tab:red", label=f"{rule} ({int(red.sum())} of {width})"),
            dots,
        ]
        dots.set_label("mean gate" if many else "gate")
        step = max(1, int(np.ceil(len(shown) / 25)))
        ax.set_xticks(pos[::step], [str(c) for c in shown[::step]], fontsize="x-small")
        ax.set_xlim(-0.6, len(shown) - 0.4)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("share kept" if many else "kept / gate")
        ax.set_xlabel(f"column number: the {len(shown)} of {width} kept in at least one fit")
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")


#: Panels wider than this many columns show only the columns kept (see GateDisplay).
WIDE_PANEL = 50


@dataclass(eq=False)
class MaskStabilityDisplay:
    """How often each column is selected over refits, one panel per modality.

    Each panel's title gives the mean pairwise Jaccard overlap of the selections; a dashed
    line marks the 90% level a stable column should reach.

    Parameters
    ----------
    frequency : dict of str to array
        Modality -> share of refits that selected each column.
    jaccard : dict of str to float
        Modality -> mean pairwise Jaccard overlap of the selections.
    n_refits : int
        Number of refits (seeds x held-out domains, or folds).
    title : str, default=""
        Figure title.

    Examples
    --------
    >>> import numpy as np
    >>> display = MaskStabilityDisplay({"text": np.array([1.0, 0.0])}, {"text": 1.0}, 3)
    >>> len(display.plot().axes_)
    1
    """

    frequency: dict
    jaccard: dict
    n_refits: int
    title: str = ""

    @classmethod
    def from_estimator(cls, estimator, X, y, *, sample_domain, seeds=(0, 1, 2), **kwargs):
        """Refit with :func:`~sklearn_seqinv.inspection.mask_stability` and plot the result."""
        from .inspection import mask_stability

        result = mask_stability(estimator, X, y, sample_domain=sample_domain, seeds=seeds, **kwargs)
        return cls.from_stability(result)

    @classmethod
    def from_stability(cls, stability):
        """From the Bunch :func:`~sklearn_seqinv.inspection.mask_stability` returns."""
        found = stability.modalities
        return cls(
            {m: s.frequency for m, s in found.items()},
            {m: s.jaccard for m, s in found.items()},
            len(stability.refits),
            title="selection over seeds and held-out domains",
        )

    @classmethod
    def from_results(cls, results, method="text_first"):
        """Over the leave-one-domain-out folds of an evaluation's ``method``."""
        found = _method_gates(results, method)
        return cls(
            {m: np.asarray(v["selected_share"]) for m, v in found.items()},
            {m: v["jaccard"] for m, v in found.items()},
            next(iter(found.values()))["n_folds"],
            title=f"{method}: selection over leave-one-domain-out folds",
        )

    def plot(self, axes=None):
        """Draw one panel per modality; returns ``self`` with ``figure_`` and ``axes_``."""
        names = list(self.frequency)
        axes = _panels(names, axes)
        for ax, name in zip(axes, names):
            share = np.asarray(self.frequency[name], dtype=float)
            stable = share >= 0.9
            _column_bars(ax, share, ~stable, color="tab:gray", label="< 90%")
            _column_bars(ax, share, stable, color="tab:blue", label=">= 90%")
            ax.axhline(0.9, color="black", lw=0.8, ls="--")
            ax.set_ylabel("selected")
            jaccard = self.jaccard[name]
            said = "no two real selections" if jaccard is None else f"Jaccard {jaccard:.2f}"
            ax.set_title(f"{name}: {said} over {self.n_refits} refits", fontsize="medium")
            _column_axis(ax, len(share))
        axes[-1].set_xlabel("column of the modality")
        self.axes_, self.figure_ = list(axes), axes[0].figure
        if self.title:
            self.figure_.suptitle(self.title)
        self.figure_.tight_layout()
        return self
