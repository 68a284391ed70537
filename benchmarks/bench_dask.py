"""Claim: a sparsity grid search runs on a Dask cluster through joblib with identical results.

scikit-learn parallelizes GridSearchCV with joblib; joblib's ``dask`` backend sends the same
tasks to a ``dask.distributed`` cluster, so several machines share a search without any code
of ours. Here the cluster is local (loopback, two worker processes); on real machines, start
``dask scheduler`` and ``dask worker`` there and pass the scheduler address to ``Client``.

    python benchmarks/bench_dask.py            # 4 sparsity pairs x 4 held-out domains
    python benchmarks/bench_dask.py --quick

Needs the ``dask`` extra. Writes ``benchmarks/results/dask.{json,md}`` and asserts that the
Dask run's scores equal the default backend's.
"""

import argparse
import json
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier
from sklearn_seqinv.datasets import make_multimodal_domains
from sklearn_seqinv.evaluation import markdown_table

RESULTS = Path(__file__).parent / "results"


def search(data, epochs):
    model = make_pipeline(
        StandardScaler(),
        SequentialModalityClassifier(
            [
                (
                    name,
                    InvariantMaskSelector(max_epochs=epochs, random_state=0),
                    data.modalities[name],
                )
                for name in ("text", "video")
            ]
        ),
    )
    grid = {
        "sequentialmodalityclassifier__text__sparsity": [0.2, 1.0],
        "sequentialmodalityclassifier__video__sparsity": [0.2, 1.0],
    }
    return GridSearchCV(model, grid, cv=LeaveOneGroupOut(), n_jobs=2)


def timed_fit(data, epochs):
    start = time.perf_counter()
    grid = search(data, epochs).fit(
        data.X,
        data.y,
        groups=data.sample_domain,
        sequentialmodalityclassifier__sample_domain=data.sample_domain,
    )
    return grid, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=1200)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.epochs = 400, 5
    from dask.distributed import Client, LocalCluster

    data = make_multimodal_domains(n_samples=args.n_samples, n_domains=4, random_state=args.seed)
    local, local_s = timed_fit(data, args.epochs)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        with joblib.parallel_backend("dask"):
            remote, dask_s = timed_fit(data, args.epochs)
    same = np.array_equal(
        local.cv_results_["mean_test_score"], remote.cv_results_["mean_test_score"]
    )
    result = {
        "claim": "GridSearchCV on a Dask cluster gives the default backend's scores",
        "candidates": len(local.cv_results_["params"]),
        "folds": 4,
        "default_backend_seconds": round(local_s, 2),
        "dask_seconds": round(dask_s, 2),
        "mean_test_score": local.cv_results_["mean_test_score"].round(4).tolist(),
        "dask_mean_test_score": remote.cv_results_["mean_test_score"].round(4).tolist(),
        "identical": bool(same),
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "dask_quick" if args.quick else "dask"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown_table(
        ["backend", "seconds", "mean test scores"],
        [
            ["joblib default (2 processes)", local_s, str(result["mean_test_score"])],
            ["dask.distributed (2 workers)", dask_s, str(result["dask_mean_test_score"])],
        ],
        digits=1,
    )
    (RESULTS / f"{stem}.md").write_text(table)
    print(table)
    assert same, "the Dask run's scores differ from the default backend's"


if __name__ == "__main__":
    main()
