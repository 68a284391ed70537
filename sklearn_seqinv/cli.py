"""Command line: ``python -m sklearn_seqinv {demo,evaluate,benchmark}`` (also ``sklearn-seqinv``).

``evaluate`` runs the domain-generalization protocol (leave-one-domain-out and single-source,
model selection on training domains only) for every method, prints the table, and writes
``results.json``, ``results.md`` and plots into a new output folder. An existing non-empty
folder is never written into unless ``--overwrite`` is given; nothing is written elsewhere.
"""

import argparse
import json
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np

from . import __version__
from ._methods import METHOD_DESCRIPTIONS, METHODS
from .exceptions import CLIError

# scikit-learn, torch and the estimators are imported inside the commands, so that
# ``--help`` and argument errors answer at once instead of after torch's import.

# The embedded default: MOSI widths (text 768, video 20, audio 5), four domains, scores in
# [-3, 3]; text carries most of the invariant signal, video most of the spurious one.
DEFAULT_DATA = dict(
    modalities="mosi",
    n_domains=4,
    n_invariant={"text": 16, "video": 3, "audio": 2},
    n_redundant={"text": 0, "video": 3, "audio": 1},
    n_spurious={"text": 2, "video": 6, "audio": 1},
    spurious_strength=0.75,
    task="regression",
)


def default_data(n_samples, seed):
    """The embedded default dataset (see ``DEFAULT_DATA``), standardized per column."""
    from .datasets import make_multimodal_domains

    data = make_multimodal_domains(n_samples=n_samples, random_state=seed, **DEFAULT_DATA)
    data.task = "regression"
    data.description = (
        f"generated, MOSI widths, {n_samples} rows, 4 domains, scores in [-3, 3] (seed {seed})"
    )
    return data


def _fold_domains(labels, k):
    """Group many sub-population labels (video ids) into ``k`` domains, deterministically."""
    unique = sorted(set(labels))
    group = {label: f"group{i % k}" for i, label in enumerate(unique)}
    return np.asarray([group[label] for label in labels])


def _with_video(data, seed):
    from .datasets import simulate_video

    video = simulate_video(data.y, data.sample_domain, random_state=seed)
    data.X = np.hstack([np.asarray(data.X, dtype=np.float64), video])
    width = data.X.shape[1] - video.shape[1]
    data.modalities = {"text": np.arange(width), "video": np.arange(width, data.X.shape[1])}
    return data


def _classes_only(task, why):
    if task == "regression":
        raise CLIError(f"--task regression does not apply to this data: {why}")


def load_data(paths, task, seed, text_only=False):
    """Load ``--data`` paths into the loader Bunch, with ``task`` and ``description``."""
    from .datasets import combine_domains, load_meld, load_mmsa, load_reviews

    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.exists():
            raise CLIError(f"--data {path}: no such file or folder")
    if all(p.suffix == ".pkl" for p in paths):
        if text_only:
            raise CLIError(
                "--text-only applies to text-only data (the reviews folder, MELD transcripts), "
                "which gets a simulated video otherwise; MMSA files bring their own vision and "
                "audio: select modalities before saving the file instead"
            )
        task = task or "regression"
        target = "regression" if task == "regression" else "polarity"
        if len(paths) == 1:
            data = load_mmsa(paths[0], target=target, domain="video")
            data.sample_domain = _fold_domains(data.sample_domain, 4)
        else:
            data = combine_domains(
                {p.stem: load_mmsa(p, target=target) for p in paths}, target=target
            )
        data.task = task
    elif len(paths) == 1 and (paths[0] / "reviews.csv").is_file():
        _classes_only(task, "the reviews labels are positive / negative classes")
        data = load_reviews(paths[0])
        data.task = "classification"
        data = data if text_only else _with_video(data, seed)
    elif len(paths) == 1 and paths[0].is_dir() and any(paths[0].glob("*_sent_emo.csv")):
        from .text import SentenceEncoder

        _classes_only(task, "MELD's sentiment labels are classes")
        data = load_meld(paths[0], target="sentiment")
        data.X = SentenceEncoder(verbose=1).fit_transform(data.raw_text)
        data.modalities = {"text": np.arange(data.X.shape[1])}
        data.task = "classification"
        data = data if text_only else _with_video(data, seed)
    else:
        raise CLIError(
            "--data takes MMSA .pkl files, a folder with reviews.csv (the shared reviews "
            "layout), or a folder of MELD *_sent_emo.csv files"
        )
    data.description = ", ".join(str(p) for p in paths)
    return data


CHECKPOINT = "progress.jsonl"


def _output_folder(output, overwrite, resume=False):
    if resume:
        if output is None:
            raise CLIError("--resume needs --output: the folder of the interrupted run")
        folder = Path(output)
        if not (folder / CHECKPOINT).is_file():
            raise CLIError(
                f"--resume: {folder} holds no {CHECKPOINT} (no interrupted run to finish)"
            )
        return folder
    if output is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = Path.cwd() / f"seqinv-results-{stamp}"
        suffix = 1
        while folder.exists():
            suffix += 1
            folder = Path.cwd() / f"seqinv-results-{stamp}-{suffix}"
        return folder
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"--output {folder} exists and is not a folder")
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise CLIError(f"--output {folder} already holds files; pass --overwrite to replace them")
    return folder


def _write(folder, results, data, args):
    from .evaluation import results_to_markdown
    from .plotting import DomainScoresDisplay, GateDisplay, MaskStabilityDisplay

    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "sklearn_seqinv": __version__,
        "data": data.description,
        "modalities": {k: len(v) for k, v in data.modalities.items()},
        "arguments": {
            k: v for k, v in vars(args).items() if k not in ("handler", "resume", "overwrite")
        },
        **results,
    }
    (folder / "results.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    table = results_to_markdown(results)
    (folder / "results.md").write_text(
        f"# Domain generalization on {data.description}\n\n{table}\n"
        f"Took {results['seconds']:.0f} s.\n"
    )
    written = ["results.json", "results.md"]
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plots.")
        return written
    for protocol in {r["protocol"] for r in results["records"]}:
        display = DomainScoresDisplay.from_results(results, protocol=protocol).plot()
        display.figure_.savefig(folder / f"scores_{protocol}.png", dpi=110)
        plt.close(display.figure_)
        written.append(f"scores_{protocol}.png")
    for method in results["gates"]:
        display = GateDisplay.from_results(results, method=method).plot()
        display.figure_.suptitle(f"{method}: mean gate over leave-one-domain-out folds")
        display.figure_.tight_layout(rect=(0, 0, 1, 0.96))
        display.figure_.savefig(folder / f"gates_{method}.png", dpi=110)
        plt.close(display.figure_)
        written.append(f"gates_{method}.png")
        display = MaskStabilityDisplay.from_results(results, method=method).plot()
        display.figure_.savefig(folder / f"stability_{method}.png", dpi=110)
        plt.close(display.figure_)
        written.append(f"stability_{method}.png")
    return written


def evaluate(args):
    """Run the DG protocol for every method and write results and plots."""
    from sklearn.preprocessing import StandardScaler

    from .evaluation import evaluate_domain_generalization, results_to_markdown

    start = time.perf_counter()
    resume = getattr(args, "resume", False)
    folder = _output_folder(args.output, args.overwrite, resume)
    task, text_only = getattr(args, "task", None), getattr(args, "text_only", False)
    if getattr(args, "data", None):
        data = load_data(args.data, task, args.seed, text_only)
    else:
        given = [flag for flag, on in (("--task", task), ("--text-only", text_only)) if on]
        if given:
            raise CLIError(
                f"{' and '.join(given)} apply only with --data; the embedded default data "
                "has scores in [-3, 3] and three modalities"
            )
        data = default_data(args.n_samples, args.seed)
    X = StandardScaler().fit_transform(np.asarray(data.X, dtype=np.float64))
    print(
        f"Data: {data.description}; {X.shape[0]} rows, modalities "
        f"{ {k: len(v) for k, v in data.modalities.items()} }, domains "
        f"{sorted(set(map(str, data.sample_domain)))}.",
        flush=True,
    )
    checkpoint = folder / CHECKPOINT
    if not resume and checkpoint.exists():
        checkpoint.unlink()  # --overwrite of an interrupted run's folder: start afresh
    with warnings.catch_warnings():
        # Strong candidate sparsities close every gate of a fold; the selector keeps one
        # column and model selection moves on, so the per-fit warning is noise here.
        warnings.filterwarnings("ignore", message="No gate of InvariantMaskSelector")
        # Single-source fits have one environment by design; the report says what follows.
        warnings.filterwarnings("ignore", message=".*invariance penalty, but one domain")
        try:
            results = evaluate_domain_generalization(
                X,
                data.y,
                data.sample_domain,
                data.modalities,
                task=data.task,
                methods=args.methods,
                protocols=args.protocols,
                max_epochs=args.max_epochs,
                random_state=args.seed,
                verbose=args.verbose,
                checkpoint=checkpoint,
            )
        except KeyboardInterrupt:
            print(
                f"\nInterrupted. The finished fits are kept in {checkpoint}; run the same "
                f"command with --resume --output {folder} to finish the rest.",
                file=sys.stderr,
            )
            return 130
    print()
    print(results_to_markdown(results))
    written = _write(folder, results, data, args)
    checkpoint.unlink()  # results.json now holds everything
    print(f"Wrote {', '.join(written)} to {folder}")
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


def benchmark(args):
    """Evaluate the default data over several seeds; report mean and spread per method."""
    folder = _output_folder(args.output, args.overwrite)
    runs = []
    for seed in range(args.seeds):
        print(f"== seed {seed} ==", flush=True)
        sub = argparse.Namespace(
            **{
                **vars(args),
                "seed": seed,
                "data": None,
                "output": str(folder / f"seed{seed}"),
                "overwrite": True,
            }
        )
        evaluate(sub)
        runs.append(json.loads((folder / f"seed{seed}" / "results.json").read_text()))
    metric = "has0_acc2_mean"
    lines = ["| protocol | method | has0_acc2 mean over seeds | std |", "|---|---|---:|---:|"]
    keys = [(r["protocol"], r["method"]) for r in runs[0]["summary"]]
    for protocol, method in keys:
        values = [
            next(
                r[metric]
                for r in run["summary"]
                if (r["protocol"], r["method"]) == (protocol, method)
            )
            for run in runs
        ]
        lines.append(f"| {protocol} | {method} | {np.mean(values):.3f} | {np.std(values):.3f} |")
    table = "\n".join(lines) + "\n"
    (folder / "benchmark.md").write_text(table)
    print(table)
    return 0


def demo(args):
    """Fit text-first selection on generated data; score it on a held-out domain."""
    from sklearn.preprocessing import StandardScaler

    from ._selector import InvariantMaskSelector
    from ._sequential import SequentialModalityClassifier
    from .datasets import make_multimodal_domains

    start = time.perf_counter()
    data = make_multimodal_domains(n_samples=args.n_samples, n_domains=4, random_state=args.seed)
    X = StandardScaler().fit_transform(data.X)
    held_out = data.sample_domain.max()
    train, test = data.sample_domain != held_out, data.sample_domain == held_out
    print(
        f"Generated {X.shape[0]} rows x {X.shape[1]} columns in 4 domains; domain {held_out} "
        "is held out."
    )
    model = SequentialModalityClassifier(
        [
            (name, InvariantMaskSelector(random_state=args.seed), data.modalities[name])
            for name in ("text", "video")
        ],
        verbose=args.verbose,
    )
    model.fit(X[train], data.y[train], sample_domain=data.sample_domain[train])
    erm = InvariantMaskSelector(gate=None, invariance=None, random_state=args.seed)
    erm.fit(X[train], data.y[train])
    for name, est, cols in model.modalities_:
        chosen = cols[est.get_support()]
        roles = [
            next((r for r in ("invariant", "redundant", "spurious") if c in data[r][name]), "noise")
            for c in chosen
        ]
        print(f"\nSelected {name} features ({len(chosen)} of {len(cols)}):")
        for col, role in zip(chosen, roles):
            print(f"  {data.feature_names[col]} ({role})")
    print(
        f"\nHeld-out domain accuracy: text-first {model.score(X[test], data.y[test]):.3f}, "
        f"ERM on all features {erm.score(X[test], data.y[test]):.3f}"
    )
    print(f"Done in {time.perf_counter() - start:.1f} s.")
    return 0


def _positive(value):
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return number


def build_parser():
    """The argument parser; every option states what it does and its default."""
    parser = argparse.ArgumentParser(
        prog="sklearn-seqinv",
        description="Sequential domain-invariant feature selection.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    formatter = argparse.ArgumentDefaultsHelpFormatter

    run = commands.add_parser(
        "demo", help=demo.__doc__, description=demo.__doc__, formatter_class=formatter
    )
    run.add_argument("--n-samples", type=_positive, default=1600, help="rows of generated data")
    run.add_argument("--seed", type=int, default=0, help="seed of the data and the models")
    run.add_argument(
        "-v", "--verbose", action="count", default=1, help="more output (repeat for more)"
    )
    run.set_defaults(handler=demo)

    methods = "; ".join(f"{name}: {text}" for name, text in METHOD_DESCRIPTIONS.items())
    for name, handler in (("evaluate", evaluate), ("benchmark", benchmark)):
        sub = commands.add_parser(
            name, help=handler.__doc__, description=handler.__doc__, formatter_class=formatter
        )
        sub.add_argument(
            "--n-samples", type=_positive, default=1600, help="rows of the embedded default data"
        )
        sub.add_argument(
            "--seed",
            type=int,
            default=0,
            help="seed of the data, the holdouts and the models"
            + (" (the first of --seeds)" if name == "benchmark" else ""),
        )
        sub.add_argument(
            "--methods",
            nargs="+",
            choices=METHODS,
            default=None,
            metavar="METHOD",
            help=f"methods to compare (default: all). {methods}",
        )
        sub.add_argument(
            "--protocols",
            nargs="+",
            default=["leave_one_domain_out", "single_source"],
            choices=["leave_one_domain_out", "single_source"],
            help="leave_one_domain_out: train on all domains but one (multi-source DG); "
            "single_source: train on one domain, test on each other",
        )
        sub.add_argument(
            "--max-epochs",
            type=_positive,
            default=100,
            help="epochs of the gate phase of every torch model",
        )
        sub.add_argument(
            "--output",
            default=None,
            help="results folder (default: a new seqinv-results-* folder here)",
        )
        sub.add_argument(
            "--overwrite",
            action="store_true",
            help="allow writing into an existing, non-empty --output folder",
        )
        sub.add_argument(
            "-q",
            "--quiet",
            dest="verbose",
            action="store_const",
            const=0,
            default=1,
            help="print only the results table, no progress",
        )
        if name == "evaluate":
            sub.add_argument(
                "--data",
                nargs="+",
                default=None,
                help="MMSA .pkl file(s), the reviews folder, or a MELD folder "
                "(default: the embedded generated data)",
            )
            sub.add_argument(
                "--task",
                choices=["classification", "regression"],
                default=None,
                help="learning task (default: what the data holds: scores for MMSA, "
                "classes for reviews and MELD)",
            )
            sub.add_argument(
                "--text-only",
                action="store_true",
                help="text alone (no simulated video) for text-only data",
            )
            sub.add_argument(
                "--resume",
                action="store_true",
                help=f"finish an interrupted run: give its --output folder (which holds "
                f"{CHECKPOINT}, one line per finished fit) and the same options; only the "
                "missing fits run, and results.json is the same as an uninterrupted run's",
            )
        else:
            sub.add_argument("--seeds", type=_positive, default=3, help="number of seeds to run")
        sub.set_defaults(handler=handler)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (CLIError, FileNotFoundError, ValueError) as exc:
        print(f"sklearn-seqinv {args.command}: error: {exc}", file=sys.stderr)
        return 2
