"""Command line: ``python -m sklearn_seqinv {demo,evaluate,benchmark}`` (``sklearn-seqinv``),
a thin layer over :mod:`sklearn_seqinv.evaluation`. Nothing is written outside the output
folder, and into an existing non-empty one only with ``--overwrite``."""

import argparse
import contextlib
import functools
import os
import sys
import time
import warnings

from . import __version__
from .evaluation._methods import METHOD_DESCRIPTIONS, METHODS
from .evaluation._protocols import PROTOCOLS
from .evaluation._report import CHECKPOINT, results_folder, run_metadata
from .evaluation._shifts import CORRUPTIONS
from .exceptions import ClosedGatesWarning, PenaltyWithoutEnvironmentsWarning

# torch and the estimators are imported inside the commands: ``--help`` answers at once.


@contextlib.contextmanager
def _expected_warnings_off():
    """Off: closed gates of strong sparsities, one environment of single-source fits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClosedGatesWarning)
        warnings.simplefilter("ignore", PenaltyWithoutEnvironmentsWarning)
        yield


def _options(args):
    """What the protocol takes from the command line (evaluate_dataset's arguments)."""
    names = ("methods", "protocols", "sample_group", "corruptions", "max_epochs", "n_jobs")
    return {"verbose": args.verbose, **{name: getattr(args, name) for name in names}}


def _load(args, seed):
    from .datasets import load_dataset

    options = {k: getattr(args, k, None) for k in ("data", "task", "text_only")}
    source = options.pop("data")
    return load_dataset(source, n_samples=args.n_samples, random_state=seed, **options)


def evaluate(args):
    """Run the DG protocol for every method and write results and plots."""
    from .evaluation import evaluate_dataset, results_to_markdown, write_results

    start = time.perf_counter()
    folder = results_folder(args.output, overwrite=args.overwrite, resume=args.resume)
    data = _load(args, args.seed)
    print(f"Data: {data.description}; {len(data.y)} rows, {run_metadata(data, {})['modalities']}.")
    checkpoint = folder / CHECKPOINT
    if not args.resume and checkpoint.exists():
        checkpoint.unlink()  # --overwrite of an interrupted run's folder: start afresh
    try:
        with _expected_warnings_off():
            options = dict(random_state=args.seed, checkpoint=checkpoint, **_options(args))
            options["context"] = args.context
            results = evaluate_dataset(data, **options)
    except KeyboardInterrupt:
        again = f"the same command with --resume --output {folder} finishes the rest"
        print(f"\nInterrupted. Finished fits are in {checkpoint}; {again}.", file=sys.stderr)
        return 130
    print(f"\n{results_to_markdown(results)}")
    meta, title = run_metadata(data, vars(args)), data.description
    written = write_results(folder, results, title=title, metadata=meta, n_jobs=args.n_jobs)
    checkpoint.unlink()  # results.json now holds everything
    print(f"Wrote {', '.join(written)} to {folder}\nDone in {time.perf_counter() - start:.0f} s.")
    return 0


def benchmark(args):
    """Evaluate the default data over several seeds; report mean and spread per method."""
    from .evaluation import aggregate_runs, evaluate_seeds, write_results

    folder = results_folder(args.output, overwrite=args.overwrite)
    seeds, runs = range(args.seed, args.seed + args.seeds), []
    load = functools.partial(_load, args)
    with _expected_warnings_off():
        for seed, data, results in evaluate_seeds(load, seeds, **_options(args)):
            meta = run_metadata(data, {**vars(args), "seed": seed})
            write_results(folder / f"seed{seed}", results, title=data.description, metadata=meta)
            runs.append(results)
    table = aggregate_runs(runs)
    (folder / "benchmark.md").write_text(table)
    print(table)
    return 0


def demo(args):
    """Fit text-first selection on generated data; score it on a held-out domain."""
    from ._demo import run_demo

    run_demo(args.n_samples, args.seed, args.verbose)
    return 0


def _positive(value):
    if int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return int(value)


def _corruption(value):
    modality, _, kind = value.partition(":")
    if modality and kind in CORRUPTIONS:
        return value
    kinds = ", ".join(CORRUPTIONS)
    raise argparse.ArgumentTypeError(f"expected MODALITY:KIND, KIND one of {kinds}: {value!r}")


class _Formatter(argparse.HelpFormatter):
    """Help with "(default: X)" added where it says something: not when the help already
    states its default, nor for flags and options without one."""

    def _get_help_string(self, action):
        text = action.help or ""
        quiet = any(action.default is v for v in (None, False, argparse.SUPPRESS))
        stated = "(default" in text or quiet or action.nargs == 0
        return text if stated else text + " (default: %(default)s)"


_METHODS = "; ".join(f"{name}: {text}" for name, text in METHOD_DESCRIPTIONS.items())
_PROTOCOLS = (
    "leave_one_domain_out (multi-source DG), single_source (train on one domain, test on "
    "each other), official_split (the data's own split) (default: official_split for data "
    "whose split is its protocol, such as the bc-LSTM MOSI features, else the other two)"
)
_CORRUPTIONS = (
    "also score every model with a modality corrupted at test time: noise (Gaussian of the "
    "training scale), zero, or missing (NaN where a model has a missing-modality path, else "
    "the training mean); e.g. video:noise audio:zero"
)
# Options of evaluate and benchmark: flags, keyword arguments of add_argument, help.
# fmt: off
_OPTIONS = [
    (("--n-samples",), dict(type=_positive, default=1600), "rows of the embedded data"),
    (("--seed",), dict(type=int, default=0), "seed of the data, holdouts and models"),
    (("--methods",), dict(nargs="+", choices=METHODS, metavar="METHOD"),
     f"methods to compare (default: all). {_METHODS}"),
    (("--protocols",), dict(nargs="+", choices=PROTOCOLS), _PROTOCOLS),
    (("--corruptions",), dict(nargs="+", type=_corruption, metavar="MODALITY:KIND"),
     _CORRUPTIONS),
    (("--sample-group",), dict(action="store_true"),
     "pass the data's sub-groups (videos, episodes) as sample_group"),
    (("--max-epochs",), dict(type=_positive, default=100), "epochs of every torch model"),
    (("--n-jobs",), dict(type=int, default=-1),
     "fits at once (default -1: one per core), each on one thread; same results for any"),
    (("--output",), {}, "results folder (default: a new seqinv-results-* folder here)"),
    (("--overwrite",), dict(action="store_true"), "write into an existing, non-empty --output"),
    (("-q", "--quiet"), dict(dest="verbose", action="store_const", const=0, default=1),
     "print only the results table, no progress"),
]
_EVALUATE = [
    (("--data",), dict(nargs="+"), "MMSA .pkl file(s), the reviews folder, a bc-LSTM feature "
     "folder (CMU-MOSI) or a MELD folder (default: the embedded generated data)"),
    (("--task",), dict(choices=["classification", "regression"]),
     "learning task (default: what the data holds)"),
    (("--text-only",), dict(action="store_true"), "text alone (no simulated video)"),
    (("--context",), dict(action="store_true"), "also fit every method with each row's "
     "context, the mean of the other utterances of its video or dialogue (for data that "
     "name them: CMU-MOSI, MELD), as '<method>+context' rows beside the others; at "
     "prediction time the context uses the other utterances of the same video"),
    (("--resume",), dict(action="store_true"), "finish an interrupted run: the same options "
     f"and its --output folder (with {CHECKPOINT}); only the missing fits run"),
]
_SEEDS = [(("--seeds",), dict(type=_positive, default=3), "number of seeds, from --seed on")]
_DEMO = [
    (("--n-samples",), dict(type=_positive, default=1600), "rows of generated data"),
    (("--seed",), dict(type=int, default=0), "seed of the data and the models"),
    (("-v", "--verbose"), dict(action="count", default=1), "more output (repeat for more)"),
]
# fmt: on


def build_parser():
    """The argument parser; every option states what it does and its default."""
    parser = argparse.ArgumentParser(
        prog="sklearn-seqinv", description="Sequential domain-invariant feature selection."
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands_options = [(demo, _DEMO), (evaluate, _OPTIONS + _EVALUATE)]
    for handler, options in [*commands_options, (benchmark, _OPTIONS + _SEEDS)]:
        doc, name = handler.__doc__, handler.__name__
        sub = commands.add_parser(name, help=doc, description=doc, formatter_class=_Formatter)
        for flags, kwargs, text in options:
            sub.add_argument(*flags, help=text, **kwargs)
        sub.set_defaults(handler=handler)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    # Plots go to files, never to a window: no display needed, here or in the workers.
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        return args.handler(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"sklearn-seqinv {args.command}: error: {exc}", file=sys.stderr)
        return 2
