"""Question: how soon may the gate phase end once the selection has settled?

``InvariantMaskSelector(n_iter_no_change=k)`` ends the gate phase once the selected columns
have held for ``k`` epochs after the invariance warm-up (and would still hold at
``max_epochs`` at the gates' current rates). The refit depends on the selection only, so an
earlier end is free where it keeps the same columns. This runs the same default fits with
each ``k`` of ``--patience`` (``0`` stands for ``None``: every epoch), side by side in one
process, and reports per fit the columns each stage kept, the score on the held-out domain,
the epochs each stage trained and the time:

* the generated data of the main job (:data:`~sklearn_seqinv.datasets.DEFAULT_DATA`: MOSI
  widths, four domains, 1,600 rows), as a classification and as a regression task, each
  domain held out, over ``--seeds``: the default ``SequentialModality*`` (text, video,
  audio);
* ``../shared/data/reviews3`` and ``reviews4`` (when present), each domain held out: the
  default ``SequentialModalityClassifier`` on the text and a simulated video
  (:func:`~sklearn_seqinv.datasets.simulate_video`).

Scores: accuracy (classification), Has0 accuracy (regression).

    python benchmarks/bench_settling.py                  # patience 20 and 10, about 6 minutes
    python benchmarks/bench_settling.py --patience 20 10 0

Writes ``benchmarks/results/settling.{json,md}``.
"""

import argparse
import json
import time
import warnings

import numpy as np
from _paths import RESULTS, SHARED
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import (
    InvariantMaskSelector,
    SequentialModalityClassifier,
    SequentialModalityRegressor,
)
from sklearn_seqinv.datasets import (
    DEFAULT_DATA,
    load_reviews,
    make_multimodal_domains,
    simulate_video,
)
from sklearn_seqinv.evaluation import markdown_table
from sklearn_seqinv.exceptions import SeqinvWarning


def _problems(seeds):
    """``(label, X, y, domain, modalities, task, seed)`` of every fit, generated data first."""
    for task in ("classification", "regression"):
        for seed in seeds:
            data = make_multimodal_domains(
                1600, **{**DEFAULT_DATA, "task": task}, random_state=seed
            )
            yield (
                f"generated {task}, seed {seed}",
                data.X,
                data.y,
                data.sample_domain,
                data.modalities,
                task,
                seed,
            )
    for name in ("reviews3", "reviews4"):
        if not (SHARED / name).is_dir():
            continue
        data = load_reviews(SHARED / name)
        video = simulate_video(data.y, data.sample_domain, random_state=0)
        width = data.X.shape[1]
        modalities = {"text": np.arange(width), "video": np.arange(width, width + video.shape[1])}
        X = np.hstack([data.X, video])
        yield name, X, data.y, data.sample_domain, modalities, "classification", 0


def _fit(X, y, domain, modalities, task, seed, target, patience):
    train = domain != target
    X = StandardScaler().fit(X[train]).transform(X)
    meta = SequentialModalityClassifier if task == "classification" else SequentialModalityRegressor
    stages = [
        (name, InvariantMaskSelector(n_iter_no_change=patience, random_state=seed), columns)
        for name, columns in modalities.items()
    ]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeqinvWarning)
        model = meta(stages).fit(X[train], y[train], sample_domain=domain[train])
    seconds = time.perf_counter() - start
    predicted, truth = model.predict(X[~train]), y[~train]
    if task == "classification":
        score = float(np.mean(predicted == truth))
    else:
        score = float(np.mean((predicted >= 0) == (truth >= 0)))
    return {
        "score": score,
        "kept": {
            name: np.flatnonzero(est.get_support()).tolist() for name, est, _ in model.modalities_
        },
        "epochs": {name: len(est.history_) for name, est, _ in model.modalities_},
        "seconds": seconds,
    }


def _name(patience):
    return "every epoch" if patience is None else f"patience {patience}"


def _compare_columns(row, names):
    """Record whether each fit of ``row`` kept the first one's columns, then keep only how
    many each stage kept (the column lists of wide stages would fill the results file)."""
    reference = row[names[0]]["kept"]
    row["same_columns"] = {name: row[name]["kept"] == reference for name in names[1:]}
    for name in names:
        row[name]["kept"] = {stage: len(columns) for stage, columns in row[name]["kept"].items()}
    return row


def report(rows, patiences):
    first = _name(patiences[0])
    body = []
    for r in rows:
        cells = [r["data"], str(r["held_out"])]
        for p in patiences:
            fit = r[_name(p)]
            counts = ", ".join(str(v) for v in fit["kept"].values())
            epochs = ", ".join(str(v) for v in fit["epochs"].values())
            cells.append(f"{fit['score']:.4f} ({counts}; {epochs} epochs)")
        cells.append("yes" if all(r["same_columns"].values()) else "no")
        body.append(cells)
    header = ["data", "held out"]
    header += [f"{_name(p)}: score (kept per stage; epochs per stage)" for p in patiences]
    header.append("same columns")
    lines = [markdown_table(header, body), ""]
    for p in patiences[1:]:
        name = _name(p)
        moved = [r for r in rows if not r["same_columns"][name]]
        gaps = [r[name]["score"] - r[first]["score"] for r in rows]
        seconds = sum(r[name]["seconds"] for r in rows)
        base = sum(r[first]["seconds"] for r in rows)
        epochs = sum(sum(r[name]["epochs"].values()) for r in rows)
        base_epochs = sum(sum(r[first]["epochs"].values()) for r in rows)
        lines.append(
            f"- {name} against {first}: other columns in {len(moved)} of {len(rows)} fits, "
            f"score change mean {np.mean(gaps):+.4f} (lowest {min(gaps):+.4f}, highest "
            f"{max(gaps):+.4f}); {epochs} epochs against {base_epochs}; fits {seconds:.0f} s "
            f"against {base:.0f} s ({seconds / base:.2f}x)."
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patience", type=int, nargs="+", default=[20, 10])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(argv)
    patiences = [None if p == 0 else p for p in args.patience]
    start = time.perf_counter()
    rows = []
    for label, X, y, domain, modalities, task, seed in _problems(args.seeds):
        for target in np.unique(domain):
            row = {"data": label, "held_out": str(target)}
            for p in patiences:
                row[_name(p)] = _fit(X, y, domain, modalities, task, seed, target, p)
            rows.append(_compare_columns(row, [_name(p) for p in patiences]))
            progress = {
                _name(p): [row[_name(p)]["score"], row[_name(p)]["epochs"]] for p in patiences
            }
            print(label, target, json.dumps(progress), flush=True)
    seconds = time.perf_counter() - start
    patience_args = " ".join(str(p) for p in args.patience)
    text = (
        "# When the gate phase ends: the settling patience\n\n"
        "Default fits, each domain held out; the first column is the reference. Score: "
        "accuracy (classification), Has0 accuracy (regression), on the held-out domain.\n\n"
        + report(rows, patiences)
        + f"\n\nTook {seconds:.0f} s (`python benchmarks/bench_settling.py --patience "
        f"{patience_args}`).\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "settling.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "settling.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
