"""Reports of an evaluation: the Markdown table with its footnotes, and the output files."""

import json
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

from ._markdown import markdown_table

__all__ = ["aggregate_runs", "corruption_table", "results_to_markdown", "write_results"]

_TABLE_METRICS = {
    "classification": ("accuracy", "f1_weighted"),
    "regression": ("has0_acc2", "has0_f1", "non0_acc2", "mult_acc7", "mae", "corr"),
}


def results_to_markdown(results):
    """Markdown table of the summary: mean / worst target domain per protocol and method."""
    metrics = [
        m
        for m in _TABLE_METRICS[results["task"]]
        if any(f"{m}_mean" in row for row in results["summary"])
    ]
    clean = [row for row in results["summary"] if "corruption" not in row]
    table = markdown_table(
        ["protocol", "method", *(f"{m} mean / worst" for m in metrics)],
        [
            [
                row["protocol"],
                row["method"],
                *(f"{row[f'{m}_mean']:.3f} / {row[f'{m}_worst']:.3f}" for m in metrics),
            ]
            for row in clean
        ],
    )
    notes = _footnotes({**results, "summary": clean}, metrics)
    text = table + "".join(f"\n- {note}" for note in notes) + ("\n" if notes else "")
    corrupted = corruption_table(results, metrics[0]) if metrics else ""
    return text + (f"\n{corrupted}" if corrupted else "")


def corruption_table(results, metric):
    """Markdown table of the mean ``metric`` clean and under each corruption, with the drop.

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
            cells.append(f"{value:.3f} ({value - score:+.3f}){mark}")
        rows.append([protocol, method, f"{score:.3f}", *cells])
    table = markdown_table(["protocol", "method", f"clean {metric} mean", *kinds], rows)
    note = ""
    if any(r.get("imputed") for r in shifted.values()):
        note = (
            "\n- `*`: the model has no missing-modality path, so the missing columns were "
            "given the training mean (mean imputation).\n"
        )
    return f"Test-time corruptions (mean {metric}, change from clean):\n\n{table}{note}"


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
    for method, per in results["gates"].items():
        plots += [("gates", method, f"gates_{method}.png")]
        if all(v.get("n_folds", 2) > 1 for v in per.values()):  # one fit has no stability
            plots += [("stability", method, f"stability_{method}.png")]
    if effective_n_jobs(n_jobs) > 1 and len(plots) > 1:
        Parallel(n_jobs=n_jobs)(delayed(_plot)(results, *plot, folder) for plot in plots)
    else:
        for plot in plots:
            _plot(results, *plot, folder)
    return written + [name for *_, name in plots]


def _plot(results, kind, which, name, folder):
    """Render one plot of :func:`write_results` into ``folder / name``."""
    import matplotlib.pyplot as plt

    from .plotting import (
        CorruptionDisplay,
        DomainScoresDisplay,
        GateDisplay,
        MaskStabilityDisplay,
    )

    if kind == "corruptions":
        figure = CorruptionDisplay.from_results(results).plot().figure_
    elif kind == "scores":
        figure = DomainScoresDisplay.from_results(results, protocol=which).plot().figure_
    elif kind == "gates":
        figure = GateDisplay.from_results(results, method=which).plot().figure_
        folds = next(iter(results["gates"][which].values())).get("n_folds", 2)
        over = "leave-one-domain-out folds" if folds > 1 else "its one fit (the official split)"
        figure.suptitle(f"{which}: mean gate over {over}")
        figure.tight_layout(rect=(0, 0, 1, 0.96))
    else:
        figure = MaskStabilityDisplay.from_results(results, method=which).plot().figure_
    figure.savefig(Path(folder) / name, dpi=110)
    plt.close(figure)


_SAME_MODEL = {
    frozenset({"erm", "erm_irm", "erm_vrex"}): (
        "with one training domain the invariance penalties are zero, so ERM + IRM and "
        "ERM + V-REx fit the ERM model"
    ),
}


def _dense_note(method, modality, v):
    """Say in how many folds the dense model won, and how stable the real selections were."""
    text = (
        f"{method}: {modality} kept the dense model in {v['dense_folds']} of {v['n_folds']} "
        "folds (the ungated candidate won the model selection, or the dense model won the "
        "stage's out-of-domain validation: a sparse selection stays only when it wins beyond "
        "doubt)"
    )
    if v.get("jaccard_selected") is not None:
        text += (
            f"; over the {v['n_folds'] - v['dense_folds']} folds with a real selection the "
            f"Jaccard is {v['jaccard_selected']:.2f}"
        )
    return text + "."


def _footnotes(results, metrics):
    """Explain results that look like bugs: identical rows, near-zero worst domains."""
    notes = []
    by_protocol = {}
    for row in results["summary"]:
        key = tuple(round(row[f"{m}_{k}"], 12) for m in metrics for k in ("mean", "worst"))
        by_protocol.setdefault(row["protocol"], {}).setdefault(key, []).append(row["method"])
    for protocol, groups in by_protocol.items():
        for methods in groups.values():
            if len(methods) < 2:
                continue
            if protocol == "single_source":
                why = next(
                    (text for names, text in _SAME_MODEL.items() if set(methods) <= names),
                    "they fit the same model here (with one modality, every order and the "
                    "joint fit select from the same columns; with one training domain no "
                    "penalty applies and an unguided selection keeps every column)",
                )
            else:
                why = "their predictions agree on every target domain"
            notes.append(f"{protocol}: {', '.join(methods)} score the same: {why}.")
    stability = [
        f"{method} " + ", ".join(f"{m} {v['jaccard']:.2f}" for m, v in per.items())
        for method, per in results.get("gates", {}).items()
        if all("jaccard" in v and v.get("n_folds", 2) > 1 for v in per.values())
    ]
    if stability:
        notes.append(
            "mask stability (mean pairwise Jaccard of the selected columns over the "
            f"leave-one-domain-out folds, 1 = the same columns every time): {'; '.join(stability)}."
        )
    for method, per in results.get("gates", {}).items():
        for modality, v in per.items():
            if v.get("dense_folds") and v.get("n_folds", 1) > 1:
                notes.append(_dense_note(method, modality, v))
    for method, per in results.get("untrusted", {}).items():
        for modality, c in per.items():
            fits = "fit" if c["folds"] == 1 else "fits"
            notes.append(
                f"{method}: {modality} added nothing in {c['folds_without']} of {c['folds']} "
                f"{fits} (no column passed as invariant); prediction fell back on the earlier "
                "modalities."
            )
    accuracy = next((m for m in ("accuracy", "has0_acc2") if m in metrics), None)
    low = [
        f"{r['method']} ({r[f'{accuracy}_worst']:.3f})"
        for r in results["summary"]
        if accuracy and r[f"{accuracy}_worst"] < 0.25
    ]
    if low:
        notes.append(
            f"worst-domain {accuracy} below 0.25 for {', '.join(low)}: the model followed a tie "
            "that reverses in that target domain (the generated data and the simulated video are "
            "built with spurious ties that change sign across domains). One training domain "
            "cannot tell such a tie from an invariant one."
        )
    return notes
