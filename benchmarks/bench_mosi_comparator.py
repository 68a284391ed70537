"""Question: how much of the tuned linear model's CMU-MOSI score is the luck of its ``C``?

The MOSI benchmark (``bench_mosi.py``) compares the library with ``linear_tuned``: a
``StandardScaler`` + ``LogisticRegression`` whose ``C`` (:data:`~sklearn_seqinv.evaluation.
LINEAR_C_GRID`) the protocol chooses by leave-one-group-out accuracy over the four groups of
train speakers. The train split is label-leaky (the feature extractors were trained on it), so
every choice made inside it is a draw. This fits the same model on the train speakers with
``C`` chosen by each reasonable scheme, with accuracy (``GridSearchCV``'s default for a
classifier) and with log-loss, and scores each on the 16 test speakers (mean accuracy over
their four groups, as ``bench_mosi.py``):

* leave one group of train speakers out (the protocol's choice);
* a held-out fifth of the rows of every group (:class:`~sklearn_seqinv.model_selection.
  TrainingDomainHoldout`, DomainBed's training-domain validation, the library's own choice
  of a head's weight), five seeds;
* five folds of whole videos (``GroupKFold`` over ``context_group``).

The same is done with the context ``bench_mosi.py`` gives its ``+context`` rows: the mean of
the other utterances of the same video (:class:`~sklearn_seqinv.GroupContext` on the text
columns), computed within the train rows and within the test rows apart. No scheme looks at
the test speakers. The library's ``text_first`` and ``text_first+context`` rows of the
committed ``results/mosi.json`` are printed beside the spreads.

    python benchmarks/bench_mosi_comparator.py     # about 20 seconds

Writes ``benchmarks/results/mosi_comparator.{json,md,png}``.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _paths import RESULTS, SHARED
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import GroupContext
from sklearn_seqinv.datasets import load_bclstm
from sklearn_seqinv.evaluation import markdown_table, tuned_linear
from sklearn_seqinv.evaluation._units import with_context
from sklearn_seqinv.model_selection import LeaveOneDomainOut, TrainingDomainHoldout

SCORINGS = ("accuracy", "neg_log_loss")


def schemes(data, train, seeds):
    """``(name, cv, groups)`` of every way of choosing ``C`` on the train speakers."""
    domain = data.sample_domain[train]
    yield "leave one group of train speakers out (the protocol)", LeaveOneDomainOut(), domain
    for seed in seeds:
        yield (
            f"held-out fifth of every group, seed {seed}",
            TrainingDomainHoldout(random_state=seed),
            domain,
        )
    yield "5 folds of whole videos", GroupKFold(5), data.context_group[train]


def speakers_accuracy(model, X, y, domain):
    """Mean accuracy over the groups of test speakers, as ``bench_mosi.py`` reports it."""
    predicted = model.predict(X)
    return float(
        np.mean([accuracy_score(y[domain == g], predicted[domain == g]) for g in np.unique(domain)])
    )


def with_text_context(data, X, train, test):
    """``X`` with the leave-self-out mean of the text of the other utterances of each video,
    the train and the test rows summarized apart and every column standardized on the train
    rows, as the protocol's ``context_group`` gives the ``+context`` rows."""
    context = GroupContext(columns=data.modalities["text"])
    both = with_context(X, train, test, context, data.context_group, None)
    return StandardScaler().fit(both[train]).transform(both)


def run(path, seeds):
    data = load_bclstm(path)
    train, test = data.split != "test", data.split == "test"
    X = StandardScaler().fit(data.X[train]).transform(data.X)
    search = tuned_linear("classification")
    rows = []
    for features, inputs in (("all", X), ("all+context", with_text_context(data, X, train, test))):
        for name, cv, groups in schemes(data, train, seeds):
            for scoring in SCORINGS:
                fitted = GridSearchCV(search.estimator, search.param_grid, cv=cv, scoring=scoring)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fitted.fit(inputs[train], data.y[train], groups=groups)
                score = speakers_accuracy(
                    fitted, inputs[test], data.y[test], data.sample_domain[test]
                )
                rows.append(
                    {
                        "features": features,
                        "scheme": name,
                        "scoring": scoring,
                        "C": fitted.best_params_["model__C"],
                        "test": score,
                    }
                )
    return rows


FEATURES = {"all": "every column", "all+context": "every column + the text context"}
LIBRARY = {"all": "text_first", "all+context": "text_first+context"}


def summary(rows):
    """Per feature set: the spread of the test scores over the choices of ``C``."""
    out = {}
    for features in FEATURES:
        scores = np.array([r["test"] for r in rows if r["features"] == features])
        held_out = [
            r["test"]
            for r in rows
            if r["features"] == features
            and r["scheme"].startswith("held-out")
            and r["scoring"] == "accuracy"
        ]
        out[features] = {
            "min": float(scores.min()),
            "median": float(np.median(scores)),
            "max": float(scores.max()),
            "held_out_accuracy_mean": float(np.mean(held_out)),
        }
    return out


def markdown(rows, stats, library):
    table = markdown_table(
        ["features", "how C is chosen on the train speakers", "scoring", "C", "test accuracy"],
        [
            [FEATURES[r["features"]], r["scheme"], r["scoring"], f"{r['C']:.4g}", r["test"]]
            for r in rows
        ],
    )
    lines = [
        "# CMU-MOSI: the tuned linear model's score under each way of choosing C",
        "",
        "StandardScaler + LogisticRegression on every column (text, audio, video), and on every"
        " column with the mean of the text of the other utterances of the same video, fitted on"
        " the train speakers, C from the protocol's grid chosen inside the train split; scored on"
        " the 16 test speakers (mean accuracy over their four groups).",
        "",
        table,
        "",
    ]
    for features, s in stats.items():
        n = sum(r["features"] == features for r in rows)
        line = (
            f"- {FEATURES[features]}: {s['min']:.3f} to {s['max']:.3f} over the {n} choices,"
            f" median {s['median']:.3f}; the held-out fifth with accuracy, mean over its seeds:"
            f" {s['held_out_accuracy_mean']:.3f}."
        )
        if library.get(features) is not None:
            line += (
                f" The library's {LIBRARY[features]} (committed `mosi.json`, mean over its"
                f" seeds): {library[features]:.3f}."
            )
        lines.append(line)
    lines.append(
        "\nThe rows `linear_tuned` and `linear_tuned+context` of `mosi.json` are the protocol's"
        " choice (leave one group out, accuracy).\n\n![The spread](mosi_comparator.png)"
    )
    return "\n".join(lines) + "\n"


def plot(rows, library, path):
    """The test accuracy of every choice of ``C``, one line per feature set; the protocol's
    choice ringed, the library's row a vertical mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7.5, 3.0))
    markers = {"accuracy": "o", "neg_log_loss": "s"}
    for y, features in enumerate(FEATURES):
        for r in (r for r in rows if r["features"] == features):
            protocol = r["scheme"].startswith("leave one group")
            ax.scatter(
                r["test"],
                y,
                marker=markers[r["scoring"]],
                s=80 if protocol else 30,
                facecolors="none" if protocol else "C0",
                edgecolors="C3" if protocol else "C0",
                linewidths=2 if protocol else 1,
                alpha=1.0 if protocol else 0.6,
            )
        if library.get(features) is not None:
            ax.plot([library[features]] * 2, [y - 0.3, y + 0.3], color="k", lw=2)
    ax.set_yticks(range(len(FEATURES)), [FEATURES[f] for f in FEATURES])
    ax.set_ylim(-0.6, len(FEATURES) - 0.4)
    ax.set_xlabel("accuracy on the 16 test speakers")
    ax.set_title(
        "Tuned LogisticRegression, C chosen 14 ways on the train speakers\n"
        "circle: accuracy, square: log-loss; red ring: the protocol's choice;\n"
        "black bar: the library's text_first (with the context on the upper line)",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SHARED / "mosi"), help="the bc-LSTM MOSI folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        sys.exit(f"{args.data} is absent: this benchmark needs the shared MOSI features")
    start = time.perf_counter()
    rows = run(args.data, args.seeds)
    stats = summary(rows)
    committed = RESULTS / "mosi.json"
    library = {}
    if committed.is_file():
        table = json.loads(committed.read_text())["table"]
        library = {f: table[m]["accuracy"] for f, m in LIBRARY.items() if m in table}
    out = {
        "rows": rows,
        "summary": stats,
        "library": library,
        "seconds": time.perf_counter() - start,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mosi_comparator.json").write_text(json.dumps(out, indent=2) + "\n")
    text = markdown(rows, stats, library)
    (RESULTS / "mosi_comparator.md").write_text(text)
    plot(rows, library, RESULTS / "mosi_comparator.png")
    print(text)


if __name__ == "__main__":
    main()
