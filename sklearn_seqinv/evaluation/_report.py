"""Reports of an evaluation: the Markdown table with its footnotes, and the output files."""

import functools
import json
from datetime import datetime
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

from ..metrics import METRIC_LABELS
from ._markdown import markdown_table
from ._protocols import PROTOCOLS, SELECTION_PROTOCOLS

__all__ = [
    "CHECKPOINT",
    "aggregate_runs",
    "corruption_table",
    "results_folder",
    "results_to_markdown",
    "run_metadata",
    "write_results",
]

#: Protocols whose fits the ``gates`` entry does not summarize (single source).
_UNSUMMARIZED = frozenset(PROTOCOLS) - frozenset(SELECTION_PROTOCOLS)

#: The file of an evaluation's finished fits inside its results folder.
CHECKPOINT = "progress.jsonl"


def run_metadata(data, arguments):
    """The entries at the top of ``results.json``: version, data and its widths, and the
    ``arguments`` of the run (a dict; command-line bookkeeping left out)."""
    from .. import __version__

    skip = ("handler", "resume", "overwrite", "seeds")
    return {
        "sklearn_seqinv": __version__,
        "data": data.description,
        "modalities": {k: len(v) for k, v in data.modalities.items()},
        "arguments": {k: v for k, v in arguments.items() if k not in skip},
    }


def results_folder(output=None, *, overwrite=False, resume=False):
    """The folder an evaluation writes into; nothing is created here.

    ``output=None`` gives a new ``seqinv-results-<time>`` folder in the working directory.
    An existing folder that holds files is refused unless ``overwrite``; ``resume`` needs the
    folder of an interrupted run (one that holds :data:`CHECKPOINT`).
    """
    if resume:
        if output is None:
            raise ValueError("--resume needs --output: the folder of the interrupted run")
        folder = Path(output)
        if not (folder / CHECKPOINT).is_file():
            raise ValueError(
                f"--resume: {folder} holds no {CHECKPOINT} (no interrupted run to finish)"
            )
        return folder
    if output is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder, suffix = Path.cwd() / f"seqinv-results-{stamp}", 1
        while folder.exists():
            suffix += 1
            folder = Path.cwd() / f"seqinv-results-{stamp}-{suffix}"
        return folder
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--output {folder} exists and is not a folder")
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise ValueError(f"--output {folder} already holds files; pass --overwrite to replace them")
    return folder


_TABLE_METRICS = {
    "classification": ("accuracy", "f1_weighted"),
    "regression": ("has0_acc2", "has0_f1", "non0_acc2", "mult_acc7", "mae", "corr"),
}


def results_to_markdown(results):
    """The report: the recommendation, the table of mean / worst target-domain scores, and
    footnotes computed from what the fits did (see :func:`footnotes`)."""
    metrics = [
        m
        for m in _TABLE_METRICS[results["task"]]
        if any(f"{m}_mean" in row for row in results["summary"])
    ]
    clean = [row for row in results["summary"] if "corruption" not in row]
    merged = _identical_metrics(results["records"], metrics)
    shown = [m for m in metrics if m not in merged]
    table = markdown_table(
        ["protocol", "method", *(f"{m} mean / worst" for m in shown)],
        [
            [
                row["protocol"],
                row["method"],
                *(f"{row[f'{m}_mean']:.3f} / {row[f'{m}_worst']:.3f}" for m in shown),
            ]
            for row in clean
        ],
    )
    notes = footnotes({**results, "summary": clean}, metrics, merged)
    lead = "".join(f"{line}\n" for line in recommendation_lines(results))
    text = (lead + "\n" if lead else "") + table
    text += "".join(f"\n- {note}" for note in notes) + ("\n" if notes else "")
    corrupted = corruption_table(results, metrics[0]) if metrics else ""
    return text + (f"\n{corrupted}" if corrupted else "")


def recommendation_lines(results):
    """One line per protocol: the method chosen by training-domain validation, its target
    score, and the best row when that is another method (picked by the targets: not a
    choice to make)."""
    lines = []
    for protocol, r in results.get("recommended", {}).items():
        label = METRIC_LABELS.get(r["metric"], r["metric"])
        how = (
            "each training domain held out in turn"
            if r.get("validated_by") == "held-out training domains"
            else "held-out rows of the training data; one training domain cannot show a "
            "shift between domains, so this choice trusts that the targets look like it"
        )
        line = (
            f"**Recommended for {protocol}: {r['method']}**, chosen by validation on the "
            f"training domains only ({how}; never the targets); target {r['metric']} "
            f"{r['mean']:.3f} mean / {r['worst']:.3f} worst ({label})."
        )
        tied = r.get("tied", [r["method"]])
        if len(tied) > 1:
            top = r["highest_validation"]
            scores = r["validation_by_method"]
            # The rule takes the simplest of the tied methods, the highest among equally
            # simple ones: when that is the highest overall, none of the others is simpler.
            why = (
                f"none of the others is simpler than {top}, the highest, which is recommended"
                if r["method"] == top
                else f"so the simplest of them is recommended, {r['method']}"
            )
            line += (
                f" Validation cannot tell {', '.join(tied)} apart (each within one standard "
                f"error of the highest, {top}'s {scores[top]:.3f}; validation scores "
                f"{min(scores[m] for m in tied):.3f} to {scores[top]:.3f}): {why}."
            )
        if r["best_method"] != r["method"]:
            line += (
                f" The best row is {r['best_method']} ({r['best_mean']:.3f} mean), "
                f"{r['best_mean'] - r['mean']:+.3f}: found by looking at the targets, which a "
                "user of new data cannot do."
            )
        else:
            line += " It is also the best row."
        lines.append(line)
    return lines


def _identical_metrics(records, metrics):
    """Metrics equal to another shown metric on every record (``non0_*`` equals ``has0_*``
    when no true score is exactly 0): shown once, with a footnote."""
    twins = {"non0_acc2": "has0_acc2", "non0_f1": "has0_f1"}
    return {
        metric: twin
        for metric, twin in twins.items()
        if metric in metrics
        and twin in metrics
        and records
        and all(r.get(metric) == r.get(twin) for r in records)
    }


def corruption_table(results, metric):
    """Markdown table of the mean ``metric`` clean and under each corruption, with its drop
    from clean (positive: the corruption hurt; the sign of ``CorruptionDisplay``'s bars).

    Empty when the results hold no corrupted scores. ``*`` marks a missing modality that
    the model had no path for: it saw the training mean (mean imputation).
    """
    summary = results["summary"]
    kinds = list(dict.fromkeys(r["corruption"] for r in summary if "corruption" in r))
    if not kinds:
        return ""
    clean = {
        (r["protocol"], r["method"]): r[f"{metric}_mean"] for r in summary if "corruption" not in r
    }
    shifted = {
        (r["protocol"], r["method"], r["corruption"]): r for r in summary if "corruption" in r
    }
    rows = []
    for (protocol, method), score in clean.items():
        cells = []
        for kind in kinds:
            row = shifted.get((protocol, method, kind))
            if row is None:
                cells.append("")
                continue
            mark = "*" if row.get("imputed") else ""
            value = row[f"{metric}_mean"]
            drop = value - score if metric == "mae" else score - value
            cells.append(f"{value:.3f} (drop {drop:+.3f}){mark}")
        rows.append([protocol, method, f"{score:.3f}", *cells])
    table = markdown_table(["protocol", "method", f"clean {metric} mean", *kinds], rows)
    note = ""
    if any(r.get("imputed") for r in shifted.values()):
        note = (
            "\n- `*`: the model has no missing-modality path, so the missing columns were "
            "given the training mean (mean imputation).\n"
        )
    return (
        f"Test-time corruptions (mean {metric}, and in brackets its drop from clean: positive "
        f"is a loss, as in corruptions.png):\n\n{table}{note}"
    )


def aggregate_runs(runs, metrics=("has0_acc2",)):
    """Markdown table over several runs (seeds) of :func:`evaluate_domain_generalization`.

    Per protocol and method: for each metric, the mean over runs of the mean target-domain
    score, its standard deviation over runs, and the mean over runs of the worst domain.

    Parameters
    ----------
    runs : list of dict
        Results of the runs.
    metrics : tuple of str, default=("has0_acc2",)
        Metrics to show.

    Returns
    -------
    table : str
        ``Mean over N runs.`` and the table.

    Examples
    --------
    >>> run = {"summary": [{"protocol": "p", "method": "m", "accuracy_mean": 0.8,
    ...                     "accuracy_worst": 0.7}]}
    >>> print(aggregate_runs([run, run], metrics=("accuracy",)).splitlines()[-1])
    | p | m | 0.800 | 0.000 | 0.700 |
    """
    entries = {}
    for run in runs:
        for entry in run["summary"]:
            method = entry["method"]
            if "corruption" in entry:
                method += f" [{entry['corruption']}]"
            entries.setdefault((entry["protocol"], method), []).append(entry)
    header = ["protocol", "method"]
    for m in metrics:
        header += [f"{m} mean", f"{m} std over runs", f"{m} worst"]
    rows = []
    for (protocol, method), found in entries.items():
        row = [protocol, method]
        for m in metrics:
            means = [e[f"{m}_mean"] for e in found]
            row += [
                float(np.mean(means)),
                float(np.std(means)),
                float(np.mean([e[f"{m}_worst"] for e in found])),
            ]
        rows.append(row)
    return f"Mean over {len(runs)} runs.\n\n" + markdown_table(header, rows)


def write_results(folder, results, *, title, metadata=None, n_jobs=None):
    """Write ``results.json``, ``results.md`` and the plots of one evaluation into ``folder``.

    Parameters
    ----------
    folder : str or Path
        Output folder (created if needed).
    results : dict
        What :func:`evaluate_domain_generalization` returned.
    title : str
        What was evaluated, for the Markdown heading.
    metadata : dict or None, default=None
        Entries written at the top of ``results.json`` (version, data, arguments).
    n_jobs : int or None, default=None
        Plots rendered in parallel through joblib (``None``: one after the other).

    Returns
    -------
    written : list of str
        File names written; plots are left out without matplotlib.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {**(metadata or {}), **results}
    (folder / "results.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (folder / "results.md").write_text(
        f"# Domain generalization on {title}\n\n{results_to_markdown(results)}\n"
        f"Took {results['seconds']:.0f} s.\n"
    )
    written = ["results.json", "results.md"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return written
    plots = [
        ("scores", protocol, f"scores_{protocol}.png")
        for protocol in dict.fromkeys(r["protocol"] for r in results["records"])
    ]
    if any("corruption" in r for r in results["summary"]):
        plots += [("corruptions", None, "corruptions.png")]
    # The gate plot shows the share of folds that kept each column and the stability over
    # the real selections: a stability plot would repeat it.
    plots += [("gates", method, f"gates_{method}.png") for method in results["gates"]]
    if effective_n_jobs(n_jobs) > 1 and len(plots) > 1:
        Parallel(n_jobs=n_jobs)(delayed(_plot)(results, *plot, folder) for plot in plots)
    else:
        for plot in plots:
            _plot(results, *plot, folder)
    return written + [name for *_, name in plots]


def _plot(results, kind, which, name, folder):
    """Render one plot of :func:`write_results` into ``folder / name``."""
    import matplotlib.pyplot as plt

    from ..plotting import CorruptionDisplay, DomainScoresDisplay, GateDisplay

    if kind == "corruptions":
        figure = CorruptionDisplay.from_results(results).plot().figure_
    elif kind == "scores":
        figure = DomainScoresDisplay.from_results(results, protocol=which).plot().figure_
    elif kind == "gates":
        figure = GateDisplay.from_results(results, method=which).plot().figure_
        folds = next(iter(results["gates"][which].values())).get("n_folds", 2)
        over = f"{folds} leave-one-domain-out folds" if folds > 1 else "the official split"
        figure.suptitle(f"{which}: columns kept over {over}")
        figure.tight_layout(rect=(0, 0, 1, 0.96))
    figure.savefig(Path(folder) / name, dpi=110)
    plt.close(figure)


def _candidate(params):
    """A chosen grid candidate in words: "no selection", "no penalty" or the sparsity."""
    if any(key.endswith("__gate") for key in params):
        return "no selection"
    if any(key.endswith("__invariance") for key in params):
        return "no penalty"
    sparsity = [v for key, v in params.items() if key.endswith("__sparsity")]
    return f"sparsity {sparsity[0]:g}" if sparsity else "its grid"


def _times(k, n):
    """ " in k of n folds", or nothing for a single fit."""
    return f" in {k} of {n} folds" if n > 1 else ""


def _selection_note(method, per, chosen):
    """What the selection of ``method`` did per modality over its fits (the folds, or one
    fit), fallbacks by name, and its stability over the fits with a real selection only."""
    parts = []
    for modality, v in per.items():
        n, sparse = v["n_folds"], v["outcomes"].count("sparse")
        times = functools.partial(_times, n=n)

        said = []
        if sparse:
            kept = ", ".join(str(k) for k, o in zip(v["kept"], v["outcomes"]) if o == "sparse")
            width = len(v["selected_share"])
            text = f"a real selection{times(sparse)} (kept {kept} of {width} columns"
            if v["jaccard"] is not None:
                text += f"; Jaccard {v['jaccard']:.2f} over those {sparse} folds"
                if v["jaccard"] < 0.6:
                    text += (
                        f", unstable: {v['always_kept']} columns kept in all of them, "
                        f"{v['kept_once']} in only one"
                    )
                    labels = [_candidate(c) for c in chosen]
                    if len(set(labels)) > 1:
                        counts = {c: labels.count(c) for c in dict.fromkeys(labels)}
                        text += ", and the model selection chose " + ", ".join(
                            f"{c} in {k}" for c, k in counts.items()
                        )
            said.append(text + ")")
        if v["dense_folds"]:
            said.append(_dense_note(v, times))
        if v.get("open_folds"):
            said.append(f"kept every column (every gate stayed open){times(v['open_folds'])}")
        if v["none_folds"]:
            said.append(
                "kept none (modality not trusted; prediction fell back on the earlier "
                f"modalities){times(v['none_folds'])}"
            )
        decided = _decision_note(v.get("evidence") or [])
        if decided:
            said.append(decided)
        parts.append(f"{modality} " + "; ".join(said))
    over = "over the folds" if next(iter(per.values()))["n_folds"] > 1 else "in its fit"
    return f"{method} selection {over}: " + "; ".join(parts) + "."


def _decision_note(evidence):
    """The stage's decisions over the folds: on the training domains held out from gates
    blind to them, the sparse selection's mean gain over the dense candidate and its
    statistic, per fold that decided (nothing when none did)."""
    decided = [e for e in evidence if e]
    if not decided:
        return ""

    def summary(gains, statistic, verdict):
        gains = np.asarray(gains, dtype=float)
        t = f"{statistic:.1f}" if isinstance(statistic, float) else statistic
        spread = f"{gains.min():+.3f} to {gains.max():+.3f}"
        return f"{gains.mean():+.3f} ({spread}; t {t.replace('nan', 'n/a')}: {verdict})"

    compared = [e for e in decided if e["compared"]]
    said = []
    if compared:
        said.append(
            "decided on training domains held out from gates blind to them (the sparse "
            "selection's mean gain in loss over the dense candidate, its range over the "
            "held-out domains, and mean over standard error, which must exceed 1): "
            + ", ".join(
                summary(e["gains"], e["statistic"], "sparse" if e["sparse_kept"] else "dense")
                for e in compared
            )
        )
    added = [e for e in decided if e["modality_gains"] is not None]
    if added:
        said.append(
            "the modality's gain in loss over the earlier modalities alone on those domains "
            "(left out unless its mean is positive): "
            + ", ".join(
                summary(
                    e["modality_gains"],
                    e["modality_statistic"],
                    "added" if e["modality_kept"] else "left out",
                )
                + (f", hurts on {', '.join(e['modality_risk'])}" if e["modality_risk"] else "")
                for e in added
            )
        )
    return "; ".join(said)


def _dense_note(v, times):
    """The folds whose stage kept the dense candidate: every column that passes the tie test,
    with the count kept (all columns only when every one passed)."""
    width = len(v["selected_share"])
    kept = [k for k, o in zip(v["kept"], v["outcomes"]) if o == "dense"]
    if all(k == width for k in kept):
        what = f"kept all {width} columns"
    else:
        what = (
            "kept the dense candidate, every column that passes the tie test ("
            + ", ".join(str(k) for k in kept)
            + f" of {width} columns)"
        )
    return f"{what} (the dense candidate won the validation){times(v['dense_folds'])}"


def _same_model_cause(methods, fits):
    """Why ``methods`` score the same, read from their fits (``fits``: method -> the facts of
    its fits on every split, in the same order)."""
    labels = [tuple(f["predictions"] for f in fits[m]) for m in methods]
    if len(set(labels)) > 1:
        return "they predict differently on some rows, and their scores coincide"
    outputs = {m: tuple(f.get("outputs") for f in fits[m]) for m in methods}
    causes, explained = [], set()
    gated = [m for m in methods if all(f["stages"] for f in fits[m])]
    plain = [m for m in methods if m not in gated]
    if gated and len(next(iter(fits[gated[0]]))["stages"]) == 1:
        causes.append("with one modality every order fits the same stage")
        explained.update(gated)
    elif gated and all(
        st["outcome"] in ("dense", "open")
        for m in gated
        for f in fits[m]
        for st in f["stages"].values()
    ):
        erm = [m for m in plain if not any(f["invariance"] for f in fits[m])]
        same = len({outputs[m] for m in gated + erm}) == 1
        causes.append(
            f"every stage of {', '.join(gated)} kept the dense model (or every gate open) in "
            "every fit, so the "
            "order and grouping of the modalities change nothing"
            + (
                f" and the model is {', '.join(erm)}'s, ungated on every column"
                if erm and same
                else ""
            )
        )
        explained.update(gated)
    penalized = [m for m in plain if any(f["invariance"] for f in fits[m])]
    if penalized and all(f["environments"] == 1 for m in methods for f in fits[m]):
        causes.append(
            f"every fit saw one training environment, so the invariance penalty of "
            f"{', '.join(penalized)} has nothing to compare and is zero"
        )
        explained.update(penalized)
    rest = [m for m in plain if m not in explained and any(f.get("penalty") for f in fits[m])]
    if rest:
        causes.append(
            f"{', '.join(rest)} fitted models of their own (their penalty acted) whose "
            "predicted labels agree with the others' on every row"
        )
    same = len(set(outputs.values())) == 1 and None not in next(iter(outputs.values()))
    what = "outputs" if same else "predicted labels"
    reason = "; ".join(causes) if causes else "the fitted models agree"
    return f"{reason} (their {what} are identical on every target domain)"


def _context_methods(results):
    """The methods of ``results`` fitted with context (``"<method>+context"``), sorted."""
    from ._methods import CONTEXT_SUFFIX

    methods = {r["method"] for r in results["summary"]}
    return sorted(m for m in methods if m.endswith(CONTEXT_SUFFIX))


def footnotes(results, metrics, merged=None):
    """Notes on the table, each computed from what the fits did: merged metric columns,
    identical rows and their cause, each selection's outcome per modality (fallbacks by
    name, stability over real selections only), methods not fitted, near-zero worst
    domains, and what the metric names mean."""
    notes = []
    for metric, twin in (merged or {}).items():
        notes.append(
            f"{metric} equals {twin} on every target domain (no true score is exactly 0, "
            f"so leaving zeros out changes nothing): shown once, as {twin}."
        )
    fits = {}
    for f in results.get("fits", []):
        fits.setdefault((f["protocol"], f["method"]), []).append(f)
    by_protocol = {}
    for row in results["summary"]:
        key = tuple(round(row[f"{m}_{k}"], 12) for m in metrics for k in ("mean", "worst"))
        by_protocol.setdefault(row["protocol"], {}).setdefault(key, []).append(row["method"])
    for protocol, groups in by_protocol.items():
        for methods in groups.values():
            if len(methods) < 2:
                continue
            found = {m: fits.get((protocol, m)) for m in methods}
            why = (
                _same_model_cause(methods, found)
                if all(found.values())
                else "their predictions agree on every target domain"
            )
            notes.append(f"{protocol}: {', '.join(methods)} score the same: {why}.")
    chosen = {}  # the candidates chosen in the fits the gates summarize
    for c in results.get("chosen", []):
        if c["protocol"] not in _UNSUMMARIZED:
            params = {k: v for k, v in c.items() if k not in ("protocol", "method", "sources")}
            chosen.setdefault(c["method"], []).append(params)
    for method, per in results.get("gates", {}).items():
        notes.append(_selection_note(method, per, chosen.get(method, [])))
    reasons = {}
    for method, why in results.get("skipped", {}).items():
        reasons.setdefault(why, []).append(method)
    for why, methods in reasons.items():
        notes.append(f"{', '.join(methods)} not fitted: {why}.")
    accuracy = next((m for m in ("accuracy", "has0_acc2") if m in metrics), None)
    low = {}
    for r in results["summary"]:
        if accuracy and r[f"{accuracy}_worst"] < 0.25:
            one = all(f["environments"] == 1 for f in fits.get((r["protocol"], r["method"]), []))
            low.setdefault((r["protocol"], one), []).append(
                f"{r['method']} ({r[f'{accuracy}_worst']:.3f})"
            )
    for (protocol, one), methods in low.items():
        notes.append(
            f"{protocol}: worst-domain {accuracy} far below chance for {', '.join(methods)}: "
            "the predictions are mostly reversed on that target, as when a tie to the label "
            "reverses between domains"
            + (
                "; each of these fits saw one training environment, which cannot tell such a "
                "tie from an invariant one."
                if one
                else "."
            )
        )
    with_context = _context_methods(results)
    if with_context:
        notes.append(
            f"{', '.join(with_context)}: fitted with each row's context as well, a summary of the "
            "other rows of its group (the other utterances of the same video or dialogue), "
            "computed within the training rows for training and within the scored rows at "
            "prediction time: a model with context needs the other utterances of the same "
            "video to predict one. A sequential method adds the context as a stage only where "
            "it holds on held-out training domains."
        )
    legend = "; ".join(f"{m}: {METRIC_LABELS[m]}" for m in metrics if m in METRIC_LABELS)
    if legend:
        notes.append(f"metrics: {legend}.")
    return notes
