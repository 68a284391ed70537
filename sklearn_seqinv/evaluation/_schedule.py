"""The schedule of the protocol's fits: batches that share stage fits, longest first, in
parallel on one thread each, reported as they finish (progress, checkpoint, warnings)."""

import contextlib
import warnings

import torch
from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import threadpool_limits

from ..meta._stage_cache import shared_stage_fits
from ._methods import base_method, registry
from ._units import fit_unit

__all__ = ["FIT_THREADS", "expected_cost", "run_units", "share_stages", "shared_stage_fits"]


#: Torch and BLAS threads of every fit of the protocol, whatever ``n_jobs``.
FIT_THREADS = 1


@contextlib.contextmanager
def thread_limit(threads):
    """At most ``threads`` threads for torch and the BLAS libraries; restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)


def _shares_stages(name):
    method = registry().get(name)
    return method is not None and method.shares_stages


def share_stages(pending):
    """``pending`` fits in batches: the methods that share stages
    (:attr:`~sklearn_seqinv.evaluation.Method.shares_stages`) on one split together."""
    batches, by_split = [], {}
    for unit in pending:
        protocol, sources, _, name = unit
        if not _shares_stages(name):
            batches.append([unit])
            continue
        split = (protocol, tuple(map(str, sources)))
        if split not in by_split:
            by_split[split] = []
            batches.append(by_split[split])
        by_split[split].append(unit)
    return batches


def expected_cost(batch):
    """Rough relative cost of a batch of fits: each method's
    :attr:`~sklearn_seqinv.evaluation.Method.cost` times its training domains (0.2 for a
    method not registered)."""
    known = registry()
    return sum(
        getattr(known.get(base_method(name)), "cost", 0.2) * len(sources)
        for _, sources, _, name in batch
    )


def _fit_units(units):
    """``fit_unit`` of every unit, on :data:`FIT_THREADS` threads, and the warnings they
    raised as ``(message, category, filename, lineno)``.

    The units share identical stage fits (:func:`shared_stage_fits`): each is still
    fitted as if alone, bit for bit. Warnings are
    recorded rather than shown: a worker process does not have the caller's warning filters
    (and would print to its own stderr), so the caller shows them.
    """
    with thread_limit(FIT_THREADS), shared_stage_fits():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = [fit_unit(*args) for args in units]
    return results, [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


def run_units(batches, arguments, store, progress, n_jobs):
    """Fit every batch (``arguments[i]``: the :func:`fit_unit` arguments of batch ``i``'s
    units) through joblib, adding each result to ``store`` and ``progress`` as it comes.

    Results come back in submission order, each batch as soon as it and those before it
    finish, so each fit is in the checkpoint before the next batch is awaited. Warnings
    raised in a worker are shown here, under the caller's filters, each once.
    """
    tasks = (delayed(_fit_units)(args) for args in arguments)
    finished = Parallel(n_jobs=effective_n_jobs(n_jobs), return_as="generator")(tasks)
    seen = {}  # the warning registry of this run: a repeated warning shows once
    try:
        for batch in batches:
            labels = [f"{p} {name} sources={','.join(map(str, s))}" for p, s, _, name in batch]
            if len(batch) > 1:  # the batch's time goes to its first fit, the others follow
                labels[0] += f" (with {', '.join(name for *_, name in batch[1:])})"
            progress.start(labels[0])
            results, caught = next(finished)
            for i, result in enumerate(results):
                if i:
                    progress.start(labels[i])
                store.add(result)
                progress.done()
            for message, category, filename, lineno in caught:
                warnings.warn_explicit(message, category, filename, lineno, registry=seen)
    finally:
        # On an error, the fits still to come are cancelled (joblib's note on it is noise).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\d+ tasks (have been|which were)")
            finished.close()
    progress.close()
