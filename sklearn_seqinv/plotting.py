"""Display objects for per-domain scores and learned gates (matplotlib, optional)."""

import numpy as np

__all__ = ["CorruptionDisplay", "DomainScoresDisplay", "GateDisplay", "MaskStabilityDisplay"]


def _pyplot():
    try:
        import matplotlib

        if matplotlib.get_backend().lower() not in {"agg", "pdf", "svg", "ps", "cairo"}:
            matplotlib.use("Agg", force=False)
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


def _column_axis(ax, n_columns):
    """Shares in [0, 1] over whole column numbers, the legend beside the panel."""
    from matplotlib.ticker import MaxNLocator

    ax.set_ylim(0, 1.05)
    ax.set_xlim(-0.5, n_columns - 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")


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

    def __init__(self, drops, metric, title=""):
        self.drops = drops
        self.metric = metric
        self.title = title

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
        metric = metric or ("accuracy" if results["task"] == "classification" else "has0_acc2")
        clean = {
            r["method"]: r[f"{metric}_mean"]
            for r in summary
            if r["protocol"] == protocol and "corruption" not in r
        }
        drops = {}
        for row in corrupted:
            if row["protocol"] == protocol and row["method"] in clean:
                drop = clean[row["method"]] - row[f"{metric}_mean"]
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


class DomainScoresDisplay:
    """Grouped bars: one score per target domain and method, with each method's mean.

    Parameters
    ----------
    scores : dict of str to dict of str to float
        Method -> target domain -> score.
    metric : str
        Name of the score, for the axis label.
    title : str, default=""
        Figure title.
    legend_title : str, default="target domain"
        Title of the legend (``"source->target"`` for single-source pairs).

    Examples
    --------
    >>> display = DomainScoresDisplay({"seq": {"a": 0.8, "b": 0.7}}, "accuracy")
    >>> display.plot().ax_.get_ylabel()
    'accuracy'
    """

    def __init__(self, scores, metric, title="", legend_title="target domain"):
        self.scores = scores
        self.metric = metric
        self.title = title
        self.legend_title = legend_title

    @classmethod
    def from_results(cls, results, metric=None, protocol="leave_one_domain_out"):
        """Build from :func:`~sklearn_seqinv.evaluation.evaluate_domain_generalization`."""
        rows = [
            r for r in results["records"] if r["protocol"] == protocol and "corruption" not in r
        ]
        if not rows:
            raise ValueError(f"The results hold no {protocol!r} record.")
        metric = metric or ("accuracy" if results["task"] == "classification" else "has0_acc2")
        scores = {}
        for row in rows:
            target = (
                row["target"]
                if protocol != "single_source"
                else (f"{row['sources'][0]}->{row['target']}")
            )
            scores.setdefault(row["method"], {})[target] = row[metric]
        legend = "source->target" if protocol == "single_source" else "target domain"
        return cls(scores, metric, title=protocol.replace("_", " "), legend_title=legend)

    def plot(self, ax=None):
        """Draw the bars; returns ``self`` with ``figure_`` and ``ax_``."""
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6, 1.2 * len(self.scores) + 3), 4))
        methods = list(self.scores)
        targets = sorted({t for per in self.scores.values() for t in per})
        width = 0.8 / max(len(targets), 1)
        x = np.arange(len(methods))
        # One distinct colour per target (tab10 repeats after 10, so more targets use tab20).
        cmap = plt.get_cmap("tab10" if len(targets) <= 10 else "tab20")
        for i, target in enumerate(targets):
            values = [self.scores[m].get(target, np.nan) for m in methods]
            ax.bar(
                x + i * width - 0.4 + width / 2,
                values,
                width,
                label=str(target),
                color=cmap(i % cmap.N),
            )
        means = [np.nanmean(list(self.scores[m].values())) for m in methods]
        ax.scatter(x, means, color="black", marker="D", zorder=3, label="mean")
        ax.set_xticks(x, methods, rotation=30, ha="right")
        ax.set_ylabel(self.metric)
        ax.set_title(self.title)
        ax.legend(
            title=self.legend_title,
            fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
        self.ax_, self.figure_ = ax, ax.figure
        self.figure_.tight_layout()
        return self


class GateDisplay:
    """The learned gate of every column, one panel per modality, selected columns marked.

    Parameters
    ----------
    gates : dict of str to array
        Modality -> gate value per column.
    selected : dict of str to array
        Modality -> selection per column (bool, or the share of folds that selected it).
    threshold : float, default=0.5
        The gate threshold, drawn as a dashed line.
    selected_label : str, default="selected"
        Legend text of the marked columns. A column can be selected with its gate below the
        threshold (a validated fallback to every invariant column, or the share of folds
        that selected it) and dropped above it (the invariance test), so the legend says
        what the colour means.

    Examples
    --------
    >>> import numpy as np
    >>> display = GateDisplay({"text": np.array([0.0, 1.0])}, {"text": np.array([False, True])})
    >>> len(display.plot().axes_)
    1
    """

    def __init__(self, gates, selected, threshold=0.5, selected_label="selected"):
        self.gates = gates
        self.selected = selected
        self.threshold = threshold
        self.selected_label = selected_label

    @classmethod
    def from_estimator(cls, estimator):
        """From a fitted sequential meta-estimator or an InvariantMaskSelector."""
        if hasattr(estimator, "modalities_"):
            found = estimator.selection_
            return cls(
                {m: s.gates for m, s in found.items()}, {m: s.support for m, s in found.items()}
            )
        return cls(
            {"X": estimator.gates_}, {"X": estimator.get_support()}, threshold=estimator.threshold
        )

    @classmethod
    def from_results(cls, results, method="text_first"):
        """Mean gates over the leave-one-domain-out folds; marked where most folds selected."""
        found = _method_gates(results, method)
        return cls(
            {m: np.asarray(v["gate_mean"]) for m, v in found.items()},
            {m: np.asarray(v["selected_share"]) > 0.5 for m, v in found.items()},
            selected_label="selected in most folds",
        )

    def plot(self, axes=None):
        """Draw one panel per modality; returns ``self`` with ``figure_`` and ``axes_``."""
        names = list(self.gates)
        axes = _panels(names, axes)
        for ax, name in zip(axes, names):
            gates = np.asarray(self.gates[name])
            chosen = np.asarray(self.selected[name], dtype=bool)
            _column_bars(ax, gates, np.ones_like(chosen), color="lightgray", label="not selected")
            _column_bars(
                ax,
                gates,
                chosen,
                color="tab:red",
                label=f"{self.selected_label} ({chosen.sum()} of {len(gates)})",
            )
            ax.axhline(self.threshold, color="black", lw=0.8, ls="--", label="gate threshold")
            ax.set_ylabel(f"{name} gate")
            _column_axis(ax, len(gates))
        axes[-1].set_xlabel("column of the modality")
        self.axes_, self.figure_ = list(axes), axes[0].figure
        self.figure_.tight_layout()
        return self


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

    def __init__(self, frequency, jaccard, n_refits, title=""):
        self.frequency = frequency
        self.jaccard = jaccard
        self.n_refits = n_refits
        self.title = title

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
            ax.set_title(
                f"{name}: Jaccard {self.jaccard[name]:.2f} over {self.n_refits} refits",
                fontsize="medium",
            )
            _column_axis(ax, len(share))
        axes[-1].set_xlabel("column of the modality")
        self.axes_, self.figure_ = list(axes), axes[0].figure
        if self.title:
            self.figure_.suptitle(self.title)
        self.figure_.tight_layout()
        return self
