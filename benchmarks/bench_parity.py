"""Claim: the defaults are never below a tuned linear model, and sparsity is width-free.

Measures, side by side in one run:

1. head parity: ``InvariantMaskSelector(gate=None, invariance=None)`` against
   ``LogisticRegression`` with ``C`` chosen on the training domains (leave-one-domain-out
   accuracy on the shared reviews, text only) and against a tuned ``Ridge`` (leave-one-domain-
   out MAE on generated regression);
2. no-search parity: ``InvariantMaskSelector()`` with its defaults in a ``StandardScaler``
   pipeline on the reviews, with the number of the 384 columns it keeps;
3. width-free sparsity: the default selector on generated modalities of 20, 100 and 768
   columns (4 domains; invariant recall, share of noise columns kept) and on 10 domains
   (columns kept, held-out accuracy).

    python benchmarks/bench_parity.py            # about 6 minutes on 2 cores
    python benchmarks/bench_parity.py --quick    # generated data only, 1 seed

Writes ``benchmarks/results/parity.{json,md}`` and asserts the claims that hold by design:
head parity within 0.5 points (MAE within 2%), the default selector within 1 point (mean) and
2 points (worst domain) of the tuned linear model, and at 4 domains invariant recall >= 0.75
with at most 10% noise columns kept (classification; regression is reported).
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.datasets import load_reviews, make_multimodal_domains
from sklearn_seqinv.evaluation import markdown_table, tuned_linear
from sklearn_seqinv.exceptions import ClosedGatesWarning
from sklearn_seqinv.model_selection import LeaveOneDomainOut

RESULTS = Path(__file__).parent / "results"
REVIEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "reviews4"


def selector(**params):
    return make_pipeline(StandardScaler(), InvariantMaskSelector(random_state=0, **params))


def lodo(make, X, y, domain, metric):
    """Per held-out domain score, columns kept and seconds of ``make()``."""
    scores, kept, start = [], [], time.perf_counter()
    for train, test in LeaveOneDomainOut().split(X, sample_domain=domain):
        model = make()
        if isinstance(model, GridSearchCV):
            model.fit(X[train], y[train], groups=domain[train])
        else:
            model.fit(X[train], y[train], invariantmaskselector__sample_domain=domain[train])
            kept.append(int(model[-1].support_.sum()))
        pred = model.predict(X[test])
        if metric == "accuracy":
            scores.append(float(np.mean(pred == y[test])))
        else:
            scores.append(float(np.mean(np.abs(pred - y[test]))))
    return {
        "per_domain": scores,
        "mean": float(np.mean(scores)),
        "worst": float(max(scores) if metric == "mae" else min(scores)),
        "kept": kept,
        "seconds": time.perf_counter() - start,
    }


def width_case(width, seed, n_domains=4, task="classification"):
    data = make_multimodal_domains(
        n_samples=1600,
        n_domains=n_domains,
        modalities={"text": width},
        task=task,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(data.X)
    start = time.perf_counter()
    fitted = InvariantMaskSelector(random_state=seed).fit(
        X, data.y, sample_domain=data.sample_domain
    )
    invariant, spurious = data.invariant["text"], data.spurious["text"]
    noise = np.setdiff1d(np.arange(width), np.concatenate([invariant, spurious]))
    support = fitted.support_
    return {
        "width": width,
        "seed": seed,
        "n_domains": n_domains,
        "task": task,
        "kept": int(support.sum()),
        "invariant_recall": float(support[invariant].mean()),
        "spurious_kept": int(support[spurious].sum()),
        "noise_kept_share": float(support[noise].mean()),
        "seconds": time.perf_counter() - start,
    }


def ten_domains(seed):
    data = make_multimodal_domains(
        n_samples=3000, n_domains=10, modalities={"text": 100}, random_state=seed
    )
    X = np.asarray(data.X)
    ours = lodo(selector, X, data.y, data.sample_domain, "accuracy")
    linear = lodo(lambda: tuned_linear("classification"), X, data.y, data.sample_domain, "accuracy")
    return {"seed": seed, "selector": ours, "linear_tuned": linear}


def _markdown(out):
    lines = ["# Parity with a tuned linear model; width-free sparsity", ""]
    if "reviews" in out:
        r = out["reviews"]
        lines += [
            "## Reviews4, text only (real MiniLM embeddings), leave-one-domain-out accuracy",
            "",
            markdown_table(
                ["model", "mean", "worst", "columns kept", "seconds"],
                [
                    [
                        name,
                        r[name]["mean"],
                        r[name]["worst"],
                        ", ".join(map(str, r[name]["kept"])) or "all",
                        round(r[name]["seconds"]),
                    ]
                    for name in ("linear_tuned", "ungated_head", "default_selector")
                ],
                digits=4,
            ),
        ]
    g = out["ridge_parity"]
    lines += [
        "## Generated regression (60 columns, 4 domains), leave-one-domain-out MAE",
        "",
        f"tuned Ridge {g['ridge']['mean']:.4f}, ungated head {g['ungated_head']['mean']:.4f}",
        "",
        "## Default selector by width (1,600 rows)",
        "",
        markdown_table(
            [
                "task",
                "domains",
                "width",
                "seed",
                "kept",
                "invariant recall",
                "spurious kept",
                "noise kept",
                "seconds",
            ],
            [
                [
                    c["task"],
                    c["n_domains"],
                    c["width"],
                    c["seed"],
                    c["kept"],
                    f"{c['invariant_recall']:.2f}",
                    c["spurious_kept"],
                    f"{c['noise_kept_share']:.3f}",
                    f"{c['seconds']:.1f}",
                ]
                for c in out["widths"]
            ],
        ).rstrip("\n"),
    ]
    for case in out.get("ten_domains", []):
        s, lin = case["selector"], case["linear_tuned"]
        lines += [
            "",
            f"10 domains (3,000 rows, 100 columns, seed {case['seed']}): default selector "
            f"accuracy {s['mean']:.3f} mean / {s['worst']:.3f} worst, columns kept "
            f"{s['kept']}; tuned linear {lin['mean']:.3f} / {lin['worst']:.3f}.",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    seeds = range(args.seed, args.seed + (1 if args.quick else args.seeds))
    warnings.simplefilter("ignore", ClosedGatesWarning)
    out = {}

    data = make_multimodal_domains(
        n_samples=1200, n_domains=4, modalities={"text": 60}, task="regression", random_state=0
    )
    reg = (data.X, data.y, data.sample_domain, "mae")
    out["ridge_parity"] = {
        "ridge": lodo(lambda: tuned_linear("regression"), *reg),
        "ungated_head": lodo(lambda: selector(gate=None, invariance=None), *reg),
    }
    out["widths"] = [
        width_case(width, seed, task=task)
        for task in ("classification", "regression")
        for width in (20, 100, 768)
        for seed in seeds
    ]
    out["widths"] += [
        width_case(width, seed, n_domains=10) for width in (20, 768) for seed in seeds
    ]
    if not args.quick:
        out["ten_domains"] = [ten_domains(seed) for seed in seeds]
    if REVIEWS.is_dir() and not args.quick:
        reviews = load_reviews(REVIEWS)
        rv = (np.asarray(reviews.X, dtype=np.float64), reviews.y, reviews.sample_domain)
        out["reviews"] = {
            "linear_tuned": lodo(lambda: tuned_linear("classification"), *rv, "accuracy"),
            "ungated_head": lodo(lambda: selector(gate=None, invariance=None), *rv, "accuracy"),
            "default_selector": lodo(selector, *rv, "accuracy"),
        }
    suffix = "_quick" if args.quick else ""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"parity{suffix}.json").write_text(json.dumps(out, indent=2) + "\n")
    text = _markdown(out)
    (RESULTS / f"parity{suffix}.md").write_text(text)
    print(text)

    g = out["ridge_parity"]
    assert g["ungated_head"]["mean"] <= g["ridge"]["mean"] * 1.02, "head trails Ridge"
    for case in out["widths"]:
        if case["task"] == "classification" and case["n_domains"] == 4:
            assert case["invariant_recall"] >= 0.75, case
            assert case["noise_kept_share"] <= 0.10, case
    if "reviews" in out:
        r = out["reviews"]
        lin = r["linear_tuned"]
        assert r["ungated_head"]["mean"] >= lin["mean"] - 0.005, "head trails the linear model"
        assert r["default_selector"]["mean"] >= lin["mean"] - 0.01, "default selector trails"
        assert r["default_selector"]["worst"] >= lin["worst"] - 0.02, "worst domain trails"


if __name__ == "__main__":
    main()
