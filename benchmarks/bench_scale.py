"""Claim: fit time and memory grow linearly with rows and columns, at near plain-torch speed.

Measures, each configuration in a fresh process (for a clean peak-memory reading):

* InvariantMaskSelector for n_samples in 1k .. 1M (100 columns) and n_features in 100 ..
  4,000 (5,000 rows), a fixed number of epochs: the default fit's time and peak resident
  memory, its gate phase (skorch's training, the sum of its epoch durations), and a
  hand-written torch loop of the same gate, head, penalty and batch size in the same process
  (``bench_selector_speed.hand_written_loop``), each as a ratio;
* the whole SequentialModalityClassifier (text -> video -> audio) on a MOSEI-sized problem,
  about 23k rows x (768 + 35 + 74) columns, against hand-written torch loops doing the same
  three stages (same model, epochs and batch size) in the same run.

The default fit adds to the gate phase a full-batch pre-fit and refit whose L2 weight is
chosen on held-out training rows (L-BFGS along a path of six weights, for the kept columns
and for all of them): that is the "default fit / hand loop" ratio.

    python benchmarks/bench_scale.py            # about 10 minutes
    python benchmarks/bench_scale.py --quick    # smaller grid, about 1 minute

Writes ``benchmarks/results/scale.{json,md}`` and ``scale.png`` (seconds per 1,000 rows
against rows and against columns); asserts that the default fit's time per row at
the largest n is within 2x of its time per row at 10k rows.
"""

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).parent))


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fit_selector(n, d, epochs, queue):
    from bench_selector_speed import hand_written_loop, loop_settings

    from sklearn_seqinv import InvariantMaskSelector

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (X[:, :5].sum(axis=1) > 0).astype(np.int64)
    domain = rng.integers(0, 3, n).astype(np.int64)
    # torch's first training step in a process pays a one-time set-up: keep it out of the time.
    InvariantMaskSelector(max_epochs=1, random_state=0).fit(
        X[:256], y[:256], sample_domain=domain[:256]
    )
    before = _peak_mib()
    selector = InvariantMaskSelector(max_epochs=epochs, random_state=0)
    start = time.perf_counter()
    selector.fit(X, y, sample_domain=domain)
    seconds = time.perf_counter() - start
    peak = _peak_mib()
    start = time.perf_counter()
    hand_written_loop(X, y, domain, **loop_settings(selector, epochs, 0))
    queue.put(
        {
            "n_samples": n,
            "n_features": d,
            "seconds": seconds,
            "gate_phase_seconds": float(sum(selector.history_[:, "dur"])),
            "hand_written_seconds": time.perf_counter() - start,
            "data_mib": X.nbytes / 2**20,
            "peak_mib": peak,
            "peak_mib_over_start": peak - before,
        }
    )


def measure(n, d, epochs):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_fit_selector, args=(n, d, epochs, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def mosei_sized(n, epochs, seed):
    """Sequential fit vs hand-written stage loops on text 768, video 35, audio 74."""
    from bench_selector_speed import hand_written_loop, loop_settings

    from sklearn_seqinv import InvariantMaskSelector, SequentialModalityClassifier

    rng = np.random.default_rng(seed)
    widths = {"text": 768, "video": 35, "audio": 74}
    X = rng.standard_normal((n, sum(widths.values()))).astype(np.float32)
    y = (X[:, :8].sum(axis=1) + X[:, 770] > 0).astype(np.int64)
    domain = rng.integers(0, 4, n).astype(np.int64)
    cols, start = {}, 0
    for name, width in widths.items():
        cols[name] = np.arange(start, start + width)
        start += width
    selector = InvariantMaskSelector(max_epochs=epochs, random_state=seed)
    model = SequentialModalityClassifier([(k, selector, v) for k, v in cols.items()])
    tick = time.perf_counter()
    model.fit(X, y, sample_domain=domain)
    ours = time.perf_counter() - tick
    tick = time.perf_counter()
    guidance = np.empty((n, 0), dtype=np.float32)
    for c in cols.values():
        # The baseline gates the guidance columns too; at these widths that costs nothing.
        block = np.hstack([guidance, X[:, c]])
        mu = hand_written_loop(block, y, domain, **loop_settings(selector, epochs, seed))
        keep = (mu.detach().numpy()[guidance.shape[1] :] + 0.5) > 0.5
        guidance = np.hstack([guidance, X[:, c][:, keep]])
    hand = time.perf_counter() - tick
    gates = sum(float(sum(model.named_modalities_[k].history_[:, "dur"])) for k in cols)
    return {
        "n_samples": n,
        "widths": widths,
        "epochs": epochs,
        "sequential_seconds": ours,
        "gate_phase_seconds": gates,
        "hand_written_seconds": hand,
        "ratio": ours / hand,
    }


def plot(by_rows, by_cols, path):
    """Seconds per 1,000 rows of the default fit and of the hand loop, against rows (100
    columns) and against columns (5,000 rows), on log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, runs, key, label in (
        (axes[0], by_rows, "n_samples", "rows (100 columns)"),
        (axes[1], by_cols, "n_features", "columns (5,000 rows)"),
    ):
        x = [r[key] for r in runs]
        for what, name in (("seconds", "default fit"), ("hand_written_seconds", "hand loop")):
            ax.plot(x, [1000 * r[what] / r["n_samples"] for r in runs], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("seconds per 1,000 rows")
        ax.legend()
    figure.suptitle("InvariantMaskSelector: fit time per 1,000 rows (2 cores)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--mosei-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-samples", type=int, default=23_000, help="rows of the MOSEI run")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    rows_grid = [1_000, 10_000, 30_000]
    cols_grid = [100, 1_000]
    if not args.quick:
        rows_grid += [100_000, 300_000, 1_000_000]
        cols_grid += [2_000, 4_000]
    if args.quick:
        args.n_samples, args.mosei_epochs = 5_000, 3
    by_rows = [measure(n, 100, args.epochs) for n in rows_grid]
    by_cols = [measure(5_000, d, args.epochs) for d in cols_grid]
    mosei = mosei_sized(args.n_samples, args.mosei_epochs, args.seed)
    result = {"epochs": args.epochs, "by_rows": by_rows, "by_columns": by_cols, "mosei": mosei}
    # Imported here: the library (and torch) must not be in memory before the measured fits.
    from sklearn_seqinv.evaluation import markdown_table

    lines = [
        markdown_table(
            [
                "rows",
                "columns",
                "default fit (s)",
                "s per 1k rows",
                "gate phase (s)",
                "hand loop (s)",
                "gate phase / hand",
                "fit / hand",
                "data (MiB)",
                "peak RSS (MiB)",
                "peak MiB per 1k rows",
            ],
            [
                [
                    r["n_samples"],
                    r["n_features"],
                    f"{r['seconds']:.2f}",
                    f"{1000 * r['seconds'] / r['n_samples']:.3f}",
                    f"{r['gate_phase_seconds']:.2f}",
                    f"{r['hand_written_seconds']:.2f}",
                    f"{r['gate_phase_seconds'] / r['hand_written_seconds']:.2f}",
                    f"{r['seconds'] / r['hand_written_seconds']:.2f}",
                    f"{r['data_mib']:.1f}",
                    f"{r['peak_mib']:.0f}",
                    f"{1000 * r['peak_mib_over_start'] / r['n_samples']:.3f}",
                ]
                for r in by_rows + by_cols
            ],
        ),
        f"MOSEI-sized sequential fit ({mosei['n_samples']} rows, text 768 / video 35 /"
        f" audio 74, {mosei['epochs']} epochs): {mosei['sequential_seconds']:.1f} s, of which "
        f"{mosei['gate_phase_seconds']:.1f} s gate phases; hand-written loops "
        f"{mosei['hand_written_seconds']:.1f} s; gate phases / hand "
        f"{mosei['gate_phase_seconds'] / mosei['hand_written_seconds']:.2f}, whole fit / hand "
        f"{mosei['ratio']:.2f}.",
    ]
    table = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    stem = "scale_quick" if args.quick else "scale"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(
        f"{args.epochs} epochs per selector fit; peak MiB per 1k rows is how much the "
        f"resident set grew during the fit (data already in memory), per 1,000 rows.\n\n{table}"
    )
    plot(by_rows, by_cols, RESULTS / f"{stem}.png")
    print(table)
    per_row = {r["n_samples"]: r["seconds"] / r["n_samples"] for r in by_rows}
    assert per_row[rows_grid[-1]] <= 2 * per_row[10_000], "fit time grows faster than linearly"


if __name__ == "__main__":
    main()
