"""Claim: with two or three training domains of real review text, the default selector is at
parity with a tuned linear model, and the sequential classifier rejects a simulated video
block's spurious columns even when the text stage stays dense.

The data is ``../shared/data/reviews4`` (four product domains, MiniLM sentence embeddings,
384 columns; :func:`~sklearn_seqinv.datasets.load_reviews`), standardized on the training
rows of each split.

* ``text``: train on each pair of the four domains, test on the other two (6 splits).
  ``selector``: ``InvariantMaskSelector()`` with its defaults, fitted with ``sample_domain``;
  ``linear``: :func:`~sklearn_seqinv.evaluation.tuned_linear` (``C`` of a
  ``LogisticRegression`` chosen on held-out training rows).
* ``video``: the text plus a simulated video of 20 columns
  (:func:`~sklearn_seqinv.datasets.simulate_video`: 2 weakly invariant, 6 spurious, 12 noise
  columns), the spurious tie either flipping sign from domain to domain (``sign-flip``) or
  keeping its sign across the training domains with a strength from 1.0 to 0.5 and reversed
  in the test domains (``same-signed``). Splits: each pair of domains (2 training domains,
  6 splits) and each leave-one-domain-out (3 training domains, 4 splits). Models: the
  default ``SequentialModalityClassifier`` (text, then video), the text-only tuned linear
  model and ERM (the ungated head on both modalities).

    python benchmarks/bench_reviews_splits.py            # everything, about 10 minutes
    python benchmarks/bench_reviews_splits.py --quick    # text part only, 20 epochs

Writes ``benchmarks/results/reviews_splits.{json,md}``; prints the targets of the issue with
their figures and PASS or MISS (``--strict``: exit 1 on a miss).
"""

import argparse
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier
from sklearn_seqinv.datasets import load_reviews, simulate_video
from sklearn_seqinv.evaluation import markdown_table, tuned_linear
from sklearn_seqinv.exceptions import ClosedGatesWarning

RESULTS = Path(__file__).parent / "results"
REVIEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "reviews4"
SPURIOUS = np.arange(2, 8)  # simulate_video's spurious columns


def _scaled(X, train):
    return StandardScaler().fit(X[train]).transform(X)


def _per_domain(model, X, y, domain, targets):
    return {str(t): float(model.score(X[domain == t], y[domain == t])) for t in targets}


def text_splits(data, epochs, seed):
    rows = []
    domains = sorted(set(data.sample_domain))
    for sources in itertools.combinations(domains, 2):
        train = np.isin(data.sample_domain, sources)
        targets = [d for d in domains if d not in sources]
        X = _scaled(data.X, train)
        selector = InvariantMaskSelector(max_epochs=epochs, random_state=seed)
        selector.fit(X[train], data.y[train], sample_domain=data.sample_domain[train])
        linear = tuned_linear("classification", random_state=seed)
        linear.fit(X[train], data.y[train], groups=data.sample_domain[train])
        rows.append(
            {
                "sources": list(sources),
                "selector": _per_domain(selector, X, data.y, data.sample_domain, targets),
                "linear": _per_domain(linear, X, data.y, data.sample_domain, targets),
                "kept": int(selector.get_support().sum()),
                "selection_kept": bool(getattr(selector, "selection_kept_", True)),
            }
        )
        print(f"text {sources}: {rows[-1]}", flush=True)
    return rows


def video_splits(data, epochs, seed):
    rows = []
    domains = sorted(set(data.sample_domain))
    width = data.X.shape[1]
    splits = [tuple(s) for s in itertools.combinations(domains, 2)]
    splits += [tuple(d for d in domains if d != t) for t in domains]
    for block, sources in itertools.product(("sign-flip", "same-signed"), splits):
        targets = [d for d in domains if d not in sources]
        flip = None if block == "sign-flip" else targets
        video = simulate_video(data.y, data.sample_domain, flip_domains=flip, random_state=seed)
        train = np.isin(data.sample_domain, sources)
        X = _scaled(np.hstack([data.X, video]), train)
        text, vid = np.arange(width), np.arange(width, X.shape[1])
        fit = dict(sample_domain=data.sample_domain[train])
        model = SequentialModalityClassifier(
            [
                ("text", InvariantMaskSelector(max_epochs=epochs, random_state=seed), text),
                ("video", InvariantMaskSelector(max_epochs=epochs, random_state=seed), vid),
            ]
        ).fit(X[train], data.y[train], **fit)
        erm = InvariantMaskSelector(gate=None, invariance=None, random_state=seed)
        erm.fit(X[train], data.y[train], **fit)
        linear = tuned_linear("classification", random_state=seed)
        linear.fit(X[train][:, text], data.y[train], groups=data.sample_domain[train])
        stages = model.named_modalities_
        rows.append(
            {
                "block": block,
                "sources": list(sources),
                "sequential": _per_domain(model, X, data.y, data.sample_domain, targets),
                "erm": _per_domain(erm, X, data.y, data.sample_domain, targets),
                "text_linear": _per_domain(linear, X[:, text], data.y, data.sample_domain, targets),
                "text_kept": int(stages.text.get_support().sum()),
                "video_kept": int(stages.video.get_support().sum()),
                "spurious_kept": int(stages.video.get_support()[SPURIOUS].sum()),
            }
        )
        print(f"video {block} {sources}: {rows[-1]}", flush=True)
    return rows


def _mean(scores):
    return float(np.mean(list(scores.values())))


def _worst(scores):
    return float(np.min(list(scores.values())))


def report(text_rows, video_rows):
    lines, checks = [], []
    if text_rows:
        table = [
            [
                "+".join(r["sources"]),
                _mean(r["selector"]),
                _mean(r["linear"]),
                _mean(r["selector"]) - _mean(r["linear"]),
                f"{r['kept']}/384" + ("" if r["selection_kept"] else " (dense won)"),
            ]
            for r in text_rows
        ]
        gaps = [row[3] for row in table]
        table.append(["mean", *np.mean([row[1:4] for row in table], axis=0), ""])
        lines += [
            "## Text only: train on two domains, test on the other two\n",
            markdown_table(
                ["training domains", "selector", "tuned linear", "difference", "kept"], table
            ),
            "",
        ]
        checks.append(
            (
                "text: selector within 1 point of tuned linear in every split",
                f"worst difference {min(gaps):+.3f}",
                min(gaps) >= -0.01,
            )
        )
        checks.append(
            (
                "text: selector within 0.5 points of tuned linear on the mean",
                f"{np.mean(gaps):+.3f}",
                np.mean(gaps) >= -0.005,
            )
        )
    if video_rows:
        table = [
            [
                r["block"],
                "+".join(r["sources"]),
                f"{r['spurious_kept']}/{len(SPURIOUS)}",
                f"{r['text_kept']}/384",
                r["video_kept"],
                _worst(r["sequential"]),
                _worst(r["text_linear"]),
                _worst(r["erm"]),
            ]
            for r in video_rows
        ]
        lines += [
            "## Text + simulated video (20 columns, 6 spurious)\n",
            markdown_table(
                [
                    "block",
                    "training domains",
                    "spurious kept",
                    "text kept",
                    "video kept",
                    "sequential worst",
                    "text linear worst",
                    "ERM worst",
                ],
                table,
            ),
            "",
        ]
        spurious = max(r["spurious_kept"] for r in video_rows)
        vs_linear = min(_worst(r["sequential"]) - _worst(r["text_linear"]) for r in video_rows)
        vs_erm = min(_worst(r["sequential"]) - _worst(r["erm"]) for r in video_rows)
        checks += [
            (
                "video: at most 1 spurious column kept in every fold",
                f"max {spurious}",
                spurious <= 1,
            ),
            (
                "video: sequential worst >= text-only linear worst - 1 point, every fold",
                f"min difference {vs_linear:+.3f}",
                vs_linear >= -0.01,
            ),
            (
                "video: sequential worst >= ERM worst + 5 points, every fold",
                f"min difference {vs_erm:+.3f}",
                vs_erm >= 0.05,
            ),
        ]
    return "\n".join(lines), checks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REVIEWS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--part", choices=["all", "text", "video"], default="all")
    parser.add_argument("--quick", action="store_true", help="text part only, 20 epochs")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"{args.data} is absent: this benchmark needs the shared reviews")
    epochs = 20 if args.quick else args.epochs
    part = "text" if args.quick else args.part
    start = time.perf_counter()
    data = load_reviews(args.data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClosedGatesWarning)
        text_rows = text_splits(data, epochs, args.seed) if part in ("all", "text") else []
        video_rows = video_splits(data, epochs, args.seed) if part in ("all", "video") else []
    tables, checks = report(text_rows, video_rows)
    seconds = time.perf_counter() - start
    claims = "".join(f"- {'PASS' if m else 'MISS'}: {w} ({f})\n" for w, f, m in checks)
    text = (
        f"# Reviews: two and three training domains\n\nSeed {args.seed}, {epochs} epochs; "
        "accuracy per test domain, mean (text) or worst (video) over the test domains.\n\n"
        f"{tables}\nTargets:\n\n{claims}\nTook {seconds:.0f} s "
        f"(`python benchmarks/bench_reviews_splits.py --part {part}`).\n"
    )
    suffix = "_quick" if args.quick else ("" if part == "all" else f"_{part}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"reviews_splits{suffix}.md").write_text(text)
    (RESULTS / f"reviews_splits{suffix}.json").write_text(
        json.dumps({"text": text_rows, "video": video_rows}, indent=2) + "\n"
    )
    print(text)
    if args.strict and not all(m for *_, m in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
