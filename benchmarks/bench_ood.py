"""Claim: text-first selection generalizes to unseen domains better than ERM.

Runs the main job's protocol (leave-one-domain-out and single-source DG, model selection on
training domains only) for every method on

* the embedded default data (generated, MOSI widths, scores in [-3, 3]) over ``--seeds``
  seeds, and
* generated data whose single source domain has sub-groups (``n_groups=4``) across which the
  spurious tie changes strength, single-source DG with and without ``sample_group``
  (``--part subgroups``; also part of the full run), and
* when ``../shared/data/reviews4`` is present, the real multi-domain reviews (MiniLM text
  embeddings; each product category a domain) with a simulated video modality
  (``sklearn_seqinv.datasets.simulate_video``: 2 weakly invariant, 6 spurious columns whose
  tie flips sign in every other domain, per-domain style offsets, noise), text alone, and
  (leave-one-domain-out only) a same-signed simulated video whose tie changes strength across
  domains and reverses in one (kitchen).

Every table has the tuned linear baselines: ``linear_tuned`` (``C`` chosen on held-out
training rows) and ``text_linear`` (the same on the text columns alone).

    python benchmarks/bench_ood.py             # full: 3 seeds + reviews (about an hour)
    python benchmarks/bench_ood.py --quick     # 1 seed, 800 rows, 30 epochs, no reviews
    python benchmarks/bench_ood.py --part subgroups --seeds 5   # single source, sub-groups

Writes ``benchmarks/results/ood_*.{json,md}`` and asserts that text-first's mean
leave-one-domain-out Has0 accuracy on the generated data is above ERM's.
"""

import argparse
import json
import warnings

import numpy as np
from _paths import RESULTS, SHARED
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv.datasets import load_dataset, load_reviews, simulate_video
from sklearn_seqinv.evaluation import (
    aggregate_runs,
    evaluate_domain_generalization,
    markdown_table,
    results_to_markdown,
)
from sklearn_seqinv.exceptions import ClosedGatesWarning, PenaltyWithoutEnvironmentsWarning

REVIEWS = SHARED / "reviews4"


def _run(
    X, y, domain, modalities, task, epochs, seed, verbose, protocols=None, methods=None, group=None
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClosedGatesWarning)
        warnings.simplefilter("ignore", PenaltyWithoutEnvironmentsWarning)
        return evaluate_domain_generalization(
            StandardScaler().fit_transform(X),
            y,
            domain,
            modalities,
            task=task,
            max_epochs=epochs,
            random_state=seed,
            verbose=verbose,
            methods=methods,
            sample_group=group,
            # One worker per core, one thread per fit: the same results as one at a time.
            n_jobs=-1,
            **({} if protocols is None else {"protocols": protocols}),
        )


def _target(results, method, target, metric="accuracy"):
    return next(
        r[metric]
        for r in results["records"]
        if r["protocol"] == "leave_one_domain_out"
        and r["method"] == method
        and r["target"] == target
    )


def _lodo(results, method, metric, statistic="mean"):
    return next(
        r[f"{metric}_{statistic}"]
        for r in results["summary"]
        if r["protocol"] == "leave_one_domain_out" and r["method"] == method
    )


def _save(stem, runs, title):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(runs, indent=2, default=str) + "\n")
    text = f"# {title}\n\n" + "\n".join(
        f"## {name}\n\n{results_to_markdown(r)}\nTook {r['seconds']:.0f} s.\n"
        for name, r in runs.items()
    )
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)


def _single_source(results, method):
    return next(
        r["accuracy_mean"]
        for r in results["summary"]
        if r["protocol"] == "single_source" and r["method"] == method
    )


def reviews_single_source(args):
    """Single-source DG on the reviews: text alone, and with the alternating simulated video."""
    if not REVIEWS.is_dir():
        raise SystemExit(f"{REVIEWS} is absent: the reviews single-source run needs it.")
    reviews = load_reviews(REVIEWS)
    video = simulate_video(reviews.y, reviews.sample_domain, random_state=args.seed)
    width = reviews.X.shape[1]
    text = {"text": np.arange(width)}
    both = np.hstack([reviews.X, video])
    cases = {
        "text only": (reviews.X, text, ["text_first", "erm", "linear_tuned"]),
        "text + simulated video": (
            both,
            {**text, "video": np.arange(width, both.shape[1])},
            ["text_first", "erm", "linear_tuned", "text_linear"],
        ),
    }
    runs, claims = {}, []
    for name, (X, modalities, methods) in cases.items():
        runs[name] = run = _run(
            X,
            reviews.y,
            reviews.sample_domain,
            modalities,
            "classification",
            args.reviews_epochs,
            args.seed,
            args.verbose,
            protocols=("single_source",),
            methods=methods,
        )
        _save("ood_reviews_single_source", runs, "Reviews, single source")
        scores = ", ".join(f"{m} {_single_source(run, m):.4f}" for m in methods)
        claims.append(f"reviews, {name}, single source, mean target accuracy: {scores}")
    return "\n- ".join(claims)


def subgroups(args):
    """Single-source DG on generated data with 4 sub-groups per domain, with and without them."""
    from sklearn_seqinv.datasets import make_multimodal_domains

    methods = ["text_first", "erm", "erm_vrex", "linear_tuned", "text_linear"]
    runs = {}
    for seed in range(args.seed, args.seed + args.seeds):
        data = make_multimodal_domains(
            2 * args.n_samples if not args.quick else args.n_samples,
            n_domains=4,
            n_groups=4,
            random_state=seed,
        )
        for label, group in (("sample_group", data.sample_group), ("no groups", None)):
            runs[f"seed {seed}, {label}"] = _run(
                data.X,
                data.y,
                data.sample_domain,
                data.modalities,
                "classification",
                args.epochs,
                seed,
                args.verbose,
                protocols=("single_source",),
                methods=methods,
                group=group,
            )
            _save("ood_subgroups", runs, "Single source with sub-groups (generated, 4 domains)")
    table = []
    for seed in range(args.seed, args.seed + args.seeds):
        with_groups, without = runs[f"seed {seed}, sample_group"], runs[f"seed {seed}, no groups"]
        row = [
            _single_source(with_groups, "text_first"),
            _single_source(without, "text_first"),
            _single_source(with_groups, "erm"),
            _single_source(with_groups, "linear_tuned"),
        ]
        table.append(row)
    mean = np.mean(table, axis=0)
    text = markdown_table(
        ["seed", "text-first, sample_group", "text-first, no groups", "ERM", "linear_tuned"],
        [
            *(
                [str(seed), *row]
                for seed, row in zip(range(args.seed, args.seed + args.seeds), table)
            ),
            ["mean", *mean],
        ],
    )
    (RESULTS / "ood_subgroups_summary.md").write_text(
        "# Single-source DG with sub-groups: mean target accuracy\n\n" + text
    )
    print(text)
    return (
        f"generated single source with sub-groups, mean target accuracy over {args.seeds} "
        f"seeds: text-first with sample_group {mean[0]:.3f}, without {mean[1]:.3f}, "
        f"ERM {mean[2]:.3f}, linear_tuned {mean[3]:.3f}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=1600)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--reviews-epochs", type=int, default=30)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--part",
        choices=["all", "reviews", "same-signed", "generated", "subgroups", "single-source"],
        default="all",
        help="run only the reviews, only their same-signed video variant (merged into the "
        "saved reviews results), only the generated data, only the single-source "
        "sub-group case, or only single-source DG on the reviews with simulated video",
    )
    parser.add_argument("-v", "--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.seeds, args.epochs = 800, 1, 30

    claims = []
    if args.part == "single-source":
        claims.append(reviews_single_source(args))
        (RESULTS / "ood_claims_single_source.md").write_text(f"# Claims\n\n- {claims[0]}\n")
        print(claims[0])
        return
    if args.part in ("all", "subgroups"):
        claims.append(subgroups(args))
        if args.part == "subgroups":
            return
    if REVIEWS.is_dir() and not args.quick and args.part != "generated":
        reviews = load_reviews(REVIEWS)
        width = reviews.X.shape[1]
        text = {"text": np.arange(width)}
        runs, flipped = {}, "kitchen"

        def with_video(**kwargs):
            video = simulate_video(
                reviews.y, reviews.sample_domain, random_state=args.seed, **kwargs
            )
            both = np.hstack([reviews.X, video])
            return both, {**text, "video": np.arange(width, both.shape[1])}

        common = ("classification", args.reviews_epochs, args.seed, args.verbose)
        both, modalities = with_video()
        title = "Multi-domain reviews (real MiniLM text embeddings)"
        saved = RESULTS / "ood_reviews.json"
        if args.part == "same-signed" and saved.is_file():
            runs = {k: v for k, v in json.loads(saved.read_text()).items() if "same" not in k}
        # With one modality every order and the joint fit are the same model, and the
        # text-only linear model is the tuned one: those rows are left out.
        single = ["text_first", "independent", "erm", "erm_irm", "erm_vrex", "linear"]
        if args.part != "same-signed" or "text only" not in runs:
            runs["text only"] = _run(
                reviews.X,
                reviews.y,
                reviews.sample_domain,
                text,
                *common,
                methods=[*single, "linear_tuned"],
            )
            _save("ood_reviews", runs, title)  # after each run: a long benchmark keeps it
            runs["text + simulated video"] = _run(
                both, reviews.y, reviews.sample_domain, modalities, *common
            )
            _save("ood_reviews", runs, title)
        both, modalities = with_video(flip_domains=[flipped])
        runs[f"text + same-signed video, flipped in {flipped}"] = _run(
            both,
            reviews.y,
            reviews.sample_domain,
            modalities,
            *common,
            protocols=("leave_one_domain_out",),
        )
        _save("ood_reviews", runs, title)
        only = runs["text only"]
        claims.append(
            "reviews text only, leave-one-domain-out accuracy: text-first (model-selected) "
            f"{_lodo(only, 'text_first', 'accuracy'):.4f}, linear C tuned "
            f"{_lodo(only, 'linear_tuned', 'accuracy'):.4f}, ERM head "
            f"{_lodo(only, 'erm', 'accuracy'):.4f}"
        )
        same = runs[f"text + same-signed video, flipped in {flipped}"]
        claims.append(
            f"reviews + same-signed video, held-out {flipped} (video tie reversed): text-first "
            f"{_target(same, 'text_first', flipped):.4f}, text-only linear "
            f"{_target(same, 'text_linear', flipped):.4f}, ERM on both modalities "
            f"{_target(same, 'erm', flipped):.4f}"
        )

    if args.part in ("reviews", "same-signed"):
        print("\n".join(claims))
        (RESULTS / "ood_claims_reviews.md").write_text(
            "# Claims\n\n" + "".join(f"- {c}\n" for c in claims)
        )
        return
    generated = {}
    for seed in range(args.seed, args.seed + args.seeds):
        data = load_dataset(n_samples=args.n_samples, random_state=seed)
        generated[f"seed {seed}"] = _run(
            data.X,
            data.y,
            data.sample_domain,
            data.modalities,
            "regression",
            args.epochs,
            seed,
            args.verbose,
        )
    suffix = "_quick" if args.quick else ""
    _save(f"ood_generated{suffix}", generated, "Generated data, MOSI widths")
    (RESULTS / f"ood_generated_summary{suffix}.md").write_text(
        "# Generated data, MOSI widths: summary\n\n"
        + aggregate_runs(list(generated.values()), metrics=("has0_acc2", "mae", "corr"))
    )

    def over_seeds(method, statistic):
        return np.mean([_lodo(r, method, "has0_acc2", statistic) for r in generated.values()])

    ours, erm = over_seeds("text_first", "mean"), over_seeds("erm", "mean")
    ours_worst, erm_worst = over_seeds("text_first", "worst"), over_seeds("erm", "worst")
    claims.insert(
        0,
        "generated data, leave-one-domain-out Has0 accuracy (mean / worst domain, averaged over "
        f"{len(generated)} seeds): text-first {ours:.3f} / {ours_worst:.3f}, "
        f"ERM {erm:.3f} / {erm_worst:.3f}",
    )
    print("\n".join(claims))
    if not args.quick:
        # A partial run writes its own claims: the full run's file keeps every part's.
        stem = "ood_claims" if args.part == "all" else f"ood_claims_{args.part}"
        (RESULTS / f"{stem}.md").write_text("# Claims\n\n" + "".join(f"- {c}\n" for c in claims))
    assert ours > erm, "text-first did not beat ERM out of domain"


if __name__ == "__main__":
    main()
