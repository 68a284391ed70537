"""Claim: the selector's decision (a sparse selection or the dense candidate), judged only on
training domains that did not shape the selection, keeps real review text at parity with a
tuned linear model even with two training domains.

The data is ``../shared/data/reviews3`` (airline, blog, imdb: three genres, MiniLM sentence
embeddings, 384 columns; :func:`~sklearn_seqinv.datasets.load_reviews`), text only, leave one
domain out. ``selector``: ``make_pipeline(StandardScaler(), InvariantMaskSelector())`` with its
defaults, fitted with ``sample_domain``, once with ``validate_selection=True`` (the default:
judged by gates that never saw the held-out training domain) and once with ``False`` (the
gates alone); ``linear``: ``StandardScaler`` + ``LogisticRegressionCV(Cs=np.logspace(-4, 1,
11))`` whose ``C`` is chosen by inner leave-one-domain-out over the training domains. Per fold:
the accuracy of both on the held-out domain, the columns kept, and the decision's evidence
(``selection_evidence_``: the gain of the dense candidate over the sparse one on each held-out
training domain, both fitted without it). ``--before PATH`` runs the default of another
checkout of the library (its ``PYTHONPATH``; 3195fbb judged the full fit's selection on the
domains that shaped it) in the same run, as a third table.

    python benchmarks/bench_decisions.py                          # about 1 minute
    python benchmarks/bench_decisions.py --before ../old-checkout # and the older default
    python benchmarks/bench_decisions.py --quick                  # 30 epochs

Writes ``benchmarks/results/decisions.{json,md}``; prints the targets (mean within 1 point of
the tuned linear model, worst fold within 2) with PASS or MISS (``--strict``: exit 1 on a miss
of the default).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _paths import RESULTS, SHARED
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.datasets import load_reviews
from sklearn_seqinv.evaluation import markdown_table
from sklearn_seqinv.exceptions import SeqinvWarning


def tuned_linear(X, y, domain):
    """C chosen by inner leave-one-domain-out over the training domains."""
    inner = list(LeaveOneGroupOut().split(X, y, groups=domain))
    model = LogisticRegressionCV(Cs=np.logspace(-4, 1, 11), cv=inner, max_iter=2000)
    return make_pipeline(StandardScaler(), model).fit(X, y)


def run(data, epochs, seed, decision):
    rows = []
    for target in sorted(set(data.sample_domain)):
        train, test = data.sample_domain != target, data.sample_domain == target
        X, y, domain = data.X[train], data.y[train], data.sample_domain[train]
        linear = tuned_linear(X, y, domain)
        selector = InvariantMaskSelector(
            validate_selection=decision, max_epochs=epochs, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SeqinvWarning)
            start = time.perf_counter()
            pipe = make_pipeline(StandardScaler(), selector).fit(
                X, y, invariantmaskselector__sample_domain=domain
            )
            seconds = time.perf_counter() - start
        evidence = getattr(selector, "selection_evidence_", None)
        rows.append(
            {
                "held_out": str(target),
                "linear": float(linear.score(data.X[test], data.y[test])),
                "selector": float(pipe.score(data.X[test], data.y[test])),
                "kept": int(selector.get_support().sum()),
                "width": int(selector.n_features_in_),
                "gated": int((selector.gates_ > selector.threshold).sum()),
                "decision": str(decision),
                "selection_kept": bool(selector.selection_kept_),
                "evidence": None
                if evidence is None
                else {
                    "held_out": evidence.held_out,
                    "gains": [float(g) for g in evidence.gains],
                    "sparse_kept_per_fold": evidence.sparse_kept_per_fold,
                    "stable_columns": evidence.get("stable_columns"),
                    "statistic": evidence.statistic,
                    "threshold": evidence.threshold,
                },
                "seconds": seconds,
            }
        )
    return rows


def markdown(rows):
    table = markdown_table(
        ["held out", "tuned linear", "selector", "kept", "gates open", "decision evidence"],
        [
            [
                r["held_out"],
                f"{r['linear']:.3f}",
                f"{r['selector']:.3f}",
                f"{r['kept']} / {r['width']}",
                str(r["gated"]),
                ("sparse kept" if r["selection_kept"] else "dense kept")
                if r["evidence"] is None
                else "sparse gain on "
                + ", ".join(
                    f"{h if isinstance(h, str) else '+'.join(h)} {g:+.3f}"
                    for h, g in zip(r["evidence"]["held_out"], r["evidence"]["gains"])
                )
                + f" (t {r['evidence']['statistic']:.2f} vs {r['evidence']['threshold']:.2f}; "
                + ("sparse kept)" if r["selection_kept"] else "dense kept)"),
            ]
            for r in rows
        ],
    )
    return table


def targets(rows, name):
    gaps = [r["selector"] - r["linear"] for r in rows]
    return [
        (
            f"{name}: mean within 1 point of tuned linear",
            f"{np.mean(gaps):+.3f}",
            np.mean(gaps) >= -0.01,
        ),
        (f"{name}: worst fold within 2 points", f"{min(gaps):+.3f}", min(gaps) >= -0.02),
    ]


def before(path, args):
    """The rows of the default of the library at ``path``, run by this script there."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, __file__, "--rows-only", "--data", str(args.data)]
        command += ["--epochs", str(args.epochs), "--seed", str(args.seed), "--output", folder]
        env = {**os.environ, "PYTHONPATH": str(Path(path).resolve())}
        subprocess.run(command, check=True, env=env)
        return json.loads((Path(folder) / "decisions.json").read_text())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED / "reviews3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="30 epochs")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--before", type=Path, help="another checkout whose default to run")
    parser.add_argument("--rows-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data} is absent: nothing to run.")
        return 0
    start = time.perf_counter()
    data = load_reviews(args.data)
    args.epochs = 30 if args.quick else args.epochs
    if args.rows_only:
        args.output.mkdir(parents=True, exist_ok=True)
        rows = run(data, args.epochs, args.seed, True)
        (args.output / "decisions.json").write_text(json.dumps(rows, indent=2) + "\n")
        return 0
    sides = [("default (validate_selection=True)", True), ("the gates alone (False)", False)]
    rows, tables, checks = [], [], []
    for name, decision in sides:
        found = run(data, args.epochs, args.seed, decision)
        rows += [{**row, "side": name} for row in found]
        tables.append(f"{name}:\n\n{markdown(found)}")
        checks += targets(found, name)
    if args.before is not None:
        name = f"before: the default of {args.before.name}"
        found = before(args.before, args)
        rows += [{**row, "side": name} for row in found]
        tables.append(f"{name}:\n\n{markdown(found)}")
        checks += targets(found, name)
    claims = "".join(
        f"- {'PASS' if ok else 'MISS'}: {what} ({value})\n" for what, value, ok in checks
    )
    seconds = time.perf_counter() - start
    text = (
        "# reviews3, text only, leave one domain out: the selector's decision\n\n"
        + "\n\n".join(tables)
        + f"\n\nTargets:\n\n{claims}\nTook {seconds:.0f} s "
        "(`python benchmarks/bench_decisions.py"
        + ("" if args.before is None else f" --before {args.before}")
        + "`).\n"
    )
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "decisions.json").write_text(json.dumps(rows, indent=2) + "\n")
    (args.output / "decisions.md").write_text(text)
    print(text)
    default = [ok for what, _, ok in checks if what.startswith("default")]
    return 1 if args.strict and not all(default) else 0


if __name__ == "__main__":
    sys.exit(main())
