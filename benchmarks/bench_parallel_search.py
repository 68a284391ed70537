"""Claim: in ``GridSearchCV(n_jobs=2)`` on 2 cores a selector fit is at most 1.15x slower than
with ``n_jobs=1``.

A search over ``sparsity`` with leave-one-domain-out folds (``LeaveOneGroupOut``, domains
routed as ``sample_domain``) runs with ``n_jobs=1`` (one fit at a time, torch's default
threads) and with ``n_jobs=2`` (joblib's default loky backend, which gives each worker
``cpu_count // n_jobs`` threads: torch reads that limit when the worker imports it, so two
fits never oversubscribe the cores). The per-fit time is ``mean_fit_time`` of the search,
measured inside the workers; the wall time of each search is reported beside it. A third
search runs one fit at a time on one thread: it splits the per-fit ratio into what the
second thread buys a lone fit (its full-batch refit uses it) and what two fits side by side
cost each other (oversubscription, shared memory bandwidth).

    python benchmarks/bench_parallel_search.py            # 6,000 x 384, 4 domains, 20 epochs
    python benchmarks/bench_parallel_search.py --quick    # 1,200 x 100, 5 epochs

Writes ``benchmarks/results/parallel_search.{json,md}`` and asserts the per-fit ratio.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut
from threadpoolctl import threadpool_limits

from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.datasets import make_multimodal_domains
from sklearn_seqinv.evaluation import markdown_table

RESULTS = Path(__file__).parent / "results"


def search(data, epochs, n_jobs, seed, threads=None):
    """Fit the search; its mean per-fit time (s) and wall time (s).

    ``threads`` limits torch and BLAS in this process (for ``n_jobs=1``: one fit at a time
    on that many threads); ``None`` leaves the defaults.
    """
    if threads is not None:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with threadpool_limits(limits=threads):
                return search(data, epochs, n_jobs, seed)
        finally:
            torch.set_num_threads(previous)
    grid = {"sparsity": [1.0, 4.0, 16.0]}
    selector = InvariantMaskSelector(max_epochs=epochs, random_state=seed)
    with sklearn.config_context(enable_metadata_routing=True):
        selector.set_fit_request(sample_domain=True, sample_group=False)
        gs = GridSearchCV(selector, grid, cv=LeaveOneGroupOut(), n_jobs=n_jobs)
        start = time.perf_counter()
        gs.fit(
            data.X,
            data.y,
            groups=data.sample_domain,
            sample_domain=data.sample_domain,
        )
        wall = time.perf_counter() - start
    return float(np.mean(gs.cv_results_["mean_fit_time"])), wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=6_000)
    parser.add_argument("--n-features", type=int, default=384)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-ratio", type=float, default=1.15)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.n_features, args.epochs = 1_200, 100, 5
    data = make_multimodal_domains(
        n_samples=args.n_samples,
        n_domains=4,
        modalities={"text": args.n_features},
        random_state=args.seed,
    )
    data.X = data.X.astype(np.float32)
    # Warm the worker pool and the imports so neither side pays a start-up.
    search(data, 1, 2, args.seed)
    one_fit, one_wall = search(data, args.epochs, 1, args.seed)
    two_fit, two_wall = search(data, args.epochs, 2, args.seed)
    # One fit at a time on one thread, as each fit runs with n_jobs=2: the per-fit ratio
    # splits into what the second thread of an n_jobs=1 fit buys and what two fits running
    # side by side cost each other.
    single_fit, single_wall = search(data, args.epochs, 1, args.seed, threads=1)
    ratio = two_fit / one_fit
    result = {
        "claim": f"per-fit time with n_jobs=2 <= {args.max_ratio}x n_jobs=1",
        "cpu_count": os.cpu_count(),
        "n_samples": args.n_samples,
        "n_features": args.n_features,
        "epochs": args.epochs,
        "fits": 12,
        "n_jobs_1": {"per_fit_seconds": round(one_fit, 3), "wall_seconds": round(one_wall, 2)},
        "n_jobs_2": {"per_fit_seconds": round(two_fit, 3), "wall_seconds": round(two_wall, 2)},
        "n_jobs_1_one_thread": {
            "per_fit_seconds": round(single_fit, 3),
            "wall_seconds": round(single_wall, 2),
        },
        "per_fit_ratio": round(ratio, 3),
        "second_thread_speedup": round(single_fit / one_fit, 3),
        "side_by_side_slowdown": round(two_fit / single_fit, 3),
        "wall_speedup": round(one_wall / two_wall, 3),
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "parallel_search_quick" if args.quick else "parallel_search"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown_table(
        ["n_jobs", "threads per fit", "per fit (s)", "search wall (s)"],
        [
            [1, "default", one_fit, one_wall],
            [2, "1 (joblib's limit)", two_fit, two_wall],
            [1, "1", single_fit, single_wall],
        ],
        digits=2,
    )
    table += (
        f"\n{args.n_samples} x {args.n_features}, 4 domains, {args.epochs} epochs, 3 sparsities"
        f" x 4 leave-one-domain-out folds on {os.cpu_count()} cores: per-fit ratio "
        f"{ratio:.2f} (n_jobs=2 / n_jobs=1), wall-time speed-up {one_wall / two_wall:.2f}x. "
        f"Of the ratio, the second thread of an n_jobs=1 fit is worth {single_fit / one_fit:.2f}x"
        f" and two fits side by side cost each other {two_fit / single_fit:.2f}x.\n"
    )
    (RESULTS / f"{stem}.md").write_text(table)
    print(table)
    assert ratio <= args.max_ratio, f"per-fit ratio {ratio:.2f} exceeds {args.max_ratio}"


if __name__ == "__main__":
    main()
