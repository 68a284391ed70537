"""Command line: ``python -m sklearn_seqinv {demo,evaluate,benchmark}`` (also ``sklearn-seqinv``).

``evaluate`` runs the domain-generalization protocol (leave-one-domain-out and single-source,
model selection on training domains only) for every method, prints the table, and writes
``results.json``, ``results.md`` and plots into a new output folder. An existing non-empty
folder is never written into unless ``--overwrite`` is given; nothing is written elsewhere.
"""

import argparse
import os
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np

from . import __version__
from ._methods import METHOD_DESCRIPTIONS, METHODS
from ._protocols import PROTOCOLS
from ._shifts import CORRUPTIONS
from .exceptions import CLIError

# scikit-learn, torch and the estimators are imported inside the commands, so that
# ``--help`` and argument errors answer at once instead of after torch's import.

CHECKPOINT = "progress.jsonl"
DEFAULT_PROTOCOLS = ("leave_one_domain_out", "single_source")


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


def _run(data, args, checkpoint=None):
    """Standardize, then run the protocol; a thin call of the library function."""
    from sklearn.preprocessing import StandardScaler

    from .evaluation import evaluate_domain_generalization

    X = np.asarray(data.X, dtype=np.float64)
    protocols = args.protocols or getattr(data, "protocols", DEFAULT_PROTOCOLS)
    split = getattr(data, "split", None)
    # With the data's own split the scaler sees its training rows only.
    fit_rows = split != "test" if "official_split" in protocols else slice(None)
    X = StandardScaler().fit(X[fit_rows]).transform(X)
    with warnings.catch_warnings():
        # Strong candidate sparsities close every gate of a fold; the selector keeps one
        # column and model selection moves on, so the per-fit warning is noise here.
        warnings.filterwarnings("ignore", message="No gate of InvariantMaskSelector")
        # Single-source fits have one environment by design; the report says what follows.
        warnings.filterwarnings("ignore", message=".*invariance penalty, but one domain")
        return evaluate_domain_generalization(
            X,
            data.y,
            data.sample_domain,
            data.modalities,
            task=data.task,
            methods=args.methods,
            protocols=protocols,
            max_epochs=args.max_epochs,
            random_state=args.seed,
            verbose=args.verbose,
            checkpoint=checkpoint,
            n_jobs=getattr(args, "n_jobs", None),
            split=split if "official_split" in protocols else None,
            sample_group=_groups(data, args),
            corruptions=[tuple(c.split(":", 1)) for c in getattr(args, "corruptions", None) or ()],
        )


def _groups(data, args):
    if not getattr(args, "sample_group", False):
        return None
    if getattr(data, "sample_group", None) is None:
        raise CLIError(f"--sample-group: the data ({data.description}) has no sub-groups")
    return data.sample_group


def _metadata(data, args):
    return {
        "sklearn_seqinv": __version__,
        "data": data.description,
        "modalities": {k: len(v) for k, v in data.modalities.items()},
        "arguments": {
            k: v
            for k, v in vars(args).items()
            if k not in ("handler", "resume", "overwrite", "seeds")
        },
    }


def _load(args, seed):
    from .datasets import load_dataset

    task, text_only = getattr(args, "task", None), getattr(args, "text_only", False)
    if getattr(args, "data", None):
        return load_dataset(args.data, task=task, text_only=text_only, random_state=seed)
    given = [flag for flag, on in (("--task", task), ("--text-only", text_only)) if on]
    if given:
        raise CLIError(
            f"{' and '.join(given)} apply only with --data; the embedded default data "
            "has scores in [-3, 3] and three modalities"
        )
    return load_dataset(n_samples=args.n_samples, random_state=seed)


def evaluate(args):
    """Run the DG protocol for every method and write results and plots."""
    from .evaluation import results_to_markdown, write_results

    start = time.perf_counter()
    resume = getattr(args, "resume", False)
    folder = _output_folder(args.output, args.overwrite, resume)
    data = _load(args, args.seed)
    print(
        f"Data: {data.description}; {data.X.shape[0]} rows, modalities "
        f"{ {k: len(v) for k, v in data.modalities.items()} }, domains "
        f"{sorted(set(map(str, data.sample_domain)))}.",
        flush=True,
    )
    checkpoint = folder / CHECKPOINT
    if not resume and checkpoint.exists():
        checkpoint.unlink()  # --overwrite of an interrupted run's folder: start afresh
    try:
        results = _run(data, args, checkpoint)
    except KeyboardInterrupt:
        print(
            f"\nInterrupted. The finished fits are kept in {checkpoint}; run the same "
            f"command with --resume --output {folder} to finish the rest.",
            file=sys.stderr,
        )
        return 130
    print()
    print(results_to_markdown(results))
    written = write_results(
        folder,
        results,
        title=data.description,
        metadata=_metadata(data, args),
        n_jobs=getattr(args, "n_jobs", None),
    )
    checkpoint.unlink()  # results.json now holds everything
    print(f"Wrote {', '.join(written)} to {folder}")
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


def benchmark(args):
    """Evaluate the default data over several seeds; report mean and spread per method."""
    from .evaluation import aggregate_runs, write_results

    folder = _output_folder(args.output, args.overwrite)
    runs = []
    for seed in range(args.seed, args.seed + args.seeds):
        print(f"== seed {seed} ==", flush=True)
        data = _load(args, seed)
        seeded = argparse.Namespace(**{**vars(args), "seed": seed})
        results = _run(data, seeded)
        write_results(
            folder / f"seed{seed}",
            results,
            title=data.description,
            metadata=_metadata(data, seeded),
        )
        runs.append(results)
    table = aggregate_runs(runs)
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


def _corruption(value):
    modality, _, kind = value.partition(":")
    if not modality or kind not in CORRUPTIONS:
        raise argparse.ArgumentTypeError(
            f"expected MODALITY:KIND with KIND one of {', '.join(CORRUPTIONS)}, got {value!r}"
        )
    return value


class _DefaultsFormatter(argparse.HelpFormatter):
    """Help with "(default: X)" added where it says something: not when the help already
    states its default, nor for flags and options without one."""

    def _get_help_string(self, action):
        text = action.help or ""
        quiet = any(action.default is v for v in (None, False, argparse.SUPPRESS))
        if "(default" in text or quiet or action.nargs == 0:
            return text
        return text + " (default: %(default)s)"


def build_parser():
    """The argument parser; every option states what it does and its default."""
    parser = argparse.ArgumentParser(
        prog="sklearn-seqinv",
        description="Sequential domain-invariant feature selection.",
        formatter_class=_DefaultsFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    formatter = _DefaultsFormatter

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
            default=None,
            choices=PROTOCOLS,
            help="leave_one_domain_out: train on all domains but one (multi-source DG); "
            "single_source: train on one domain, test on each other; official_split: fit on "
            "the data's training split, score on its test split (default: official_split "
            "for data whose split is its protocol, such as the bc-LSTM MOSI features, else "
            "the other two)",
        )
        sub.add_argument(
            "--corruptions",
            nargs="+",
            default=None,
            metavar="MODALITY:KIND",
            type=_corruption,
            help="also score every model with a modality corrupted at test time: KIND is "
            "noise (Gaussian of the training scale), zero, or missing (NaN where a model has "
            "a missing-modality path, else the training mean); e.g. video:noise audio:zero",
        )
        sub.add_argument(
            "--sample-group",
            action="store_true",
            help="pass the data's sub-groups (videos, episodes) as sample_group: the "
            "environments become (domain, sub-group) pairs",
        )
        sub.add_argument(
            "--max-epochs",
            type=_positive,
            default=100,
            help="epochs of the gate phase of every torch model",
        )
        sub.add_argument(
            "--n-jobs",
            type=int,
            default=-1,
            help="fits to run at once (default -1: one per core); every fit runs on one "
            "thread, so they never oversubscribe the machine and the results are the same "
            "for every --n-jobs",
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
                help="MMSA .pkl file(s), the reviews folder, a bc-LSTM feature folder "
                "(CMU-MOSI), or a MELD folder (default: the embedded generated data)",
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
    # A batch command writes its plots to files and shows none: no window system needed,
    # here or in the worker processes that render them.
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        return args.handler(args)
    except (CLIError, FileNotFoundError, ValueError) as exc:
        print(f"sklearn-seqinv {args.command}: error: {exc}", file=sys.stderr)
        return 2
