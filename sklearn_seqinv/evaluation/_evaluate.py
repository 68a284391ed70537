"""The protocol's entry points: every method fitted per split, scored per target domain."""

import json
import time

import numpy as np

from ..preprocessing._context import GroupContext
from ._aggregate import collect
from ._catalog import (
    distinct_methods,
    make_methods,
)
from ._methods import CONTEXT_SUFFIX, METHODS, base_method
from ._protocols import DEFAULT_PROTOCOLS, PROTOCOLS, protocol_splits, rows_of, scored_rows
from ._runlog import Checkpoint, Progress, fingerprint
from ._schedule import expected_cost, run_units, share_stages
from ._shifts import check_corruptions
from ._units import unit_key

__all__ = ["evaluate_dataset", "evaluate_domain_generalization", "evaluate_seeds"]


def evaluate_domain_generalization(
    X,
    y,
    sample_domain,
    modalities,
    *,
    task="classification",
    methods=None,
    protocols=("leave_one_domain_out", "single_source"),
    max_epochs=100,
    random_state=0,
    verbose=1,
    sample_group=None,
    checkpoint=None,
    n_jobs=None,
    split=None,
    corruptions=None,
    standardize=True,
    context_group=None,
    context_order=None,
    context_summaries=("mean",),
    context_modalities=None,
):
    """Run the DG protocols for several methods and score every target domain.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        All modalities side by side (standardized per fit, see ``standardize``).
    y : ndarray of shape (n_samples,)
        Classes or sentiment scores.
    sample_domain : ndarray of shape (n_samples,)
        Domain of each row.
    modalities : dict of str to array of int
        Modality -> columns, the text first.
    task : {"classification", "regression"}, default="classification"
        Scores use accuracy and weighted F1, or the MMSA metric set.
    methods : list of str or None, default=None
        Subset of :data:`METHODS`; all by default.
    protocols : tuple of str, default=("leave_one_domain_out", "single_source")
        Which protocols to run (:data:`PROTOCOLS`): ``"leave_one_domain_out"`` (multi-source
        DG), ``"single_source"`` (train on one domain, test on each other) and
        ``"official_split"`` (the data's own split, see ``split``: fit on its training rows,
        score on each domain of its test rows).
    max_epochs : int, default=100
        Epochs of every torch model.
    random_state : int, default=0
        Seed.
    verbose : int, default=1
        Print one progress line per fitted model.
    sample_group : ndarray of shape (n_samples,) or None, default=None
        Sub-group of each row inside its domain (video, speaker, product), passed with
        ``sample_domain`` to every method that takes it: the environments of the invariance
        penalty and tests become the (domain, group) pairs, which is what single-source
        training can compare.
    checkpoint : str, Path or None, default=None
        A JSON-lines file that gets one line per finished (protocol, sources, method) fit,
        written as it completes. If the file already holds lines of the same run (same data,
        methods, protocols, epochs and seed), those fits are not repeated: an interrupted
        run resumes where it stopped and returns the same results (all but ``seconds``).
        A file of another run is refused.
    n_jobs : int or None, default=None
        Fits run in parallel through joblib (``None``: one at a time, ``-1``: one per core).
        Every fit runs on one torch and one BLAS thread (set inside the worker, restored
        afterwards), whatever ``n_jobs``: parallel fits never oversubscribe the cores, and
        since a sum over one thread is always taken in the same order, the results are
        identical for every ``n_jobs`` (a fit's gates can flip on a last-bit difference, so
        this matters). The protocol's fits are small: a second thread speeds one up by
        about 5%, a second worker nearly doubles the throughput.
    split : array-like of shape (n_samples,) or None, default=None
        The data's own split of each row, for ``"official_split"``: rows marked ``"test"``
        are scored, every other row (``"train"``, and ``"dev"`` as in MELD's train + dev ->
        test) is fitted on. Model selection stays on the training rows' domains. Domain
        labels may repeat across the two parts.
    corruptions : list of (str, str) or None, default=None
        Test-time shifts to score every fitted model under, beside the clean scores, as
        ``(modality, kind)`` pairs: ``"noise"`` replaces the modality's columns by Gaussian
        noise with the mean and standard deviation of each column on the training rows;
        ``"zero"`` sets them to 0; ``"missing"`` makes them NaN for a model with a
        missing-modality path (:class:`~sklearn_seqinv.SequentialModalityClassifier` with
        ``strategy="sequential"``, when the modality is not its first) and gives every other
        model the training rows' mean instead (mean imputation). Records of a corrupted
        scoring carry ``corruption`` (``"video:noise"``) and, for ``"missing"``,
        ``imputed``. The noise is drawn once per split from ``random_state``: every method
        sees the same corrupted rows.
    standardize : bool, default=True
        Standardize every column for each fit with a ``StandardScaler`` fitted on that fit's
        training rows only (never on the rows it is scored on), before the method sees them.
        Pass ``False`` for data you have scaled yourself.
    context_group : array-like of shape (n_samples,) or None, default=None
        The group whose other rows are each row's context (the video of an utterance, the
        dialogue of a line). When given, every method is also fitted as
        ``"<method>+context"`` on the columns of :class:`~sklearn_seqinv.GroupContext` as
        well: each modality of ``context_modalities`` followed by its context
        (``"text_context"``), a stage the sequential methods add only when it holds on
        held-out training domains, and columns the baselines read. The context of a row is
        computed from the other rows of its group in the same part (training or scored):
        at prediction time it uses the other utterances of the same video or dialogue.
    context_order : array-like of shape (n_samples,) or None, default=None
        Each row's position in its group (for the ``"previous"`` and ``"next"``
        summaries); ``None``: the rows' order.
    context_summaries : tuple of str, default=("mean",)
        :class:`~sklearn_seqinv.GroupContext`'s ``summaries``.
    context_modalities : list of str or None, default=None
        The modalities whose context is added; ``None``: the first (the text).

    Returns
    -------
    results : dict
        ``records``: one dict per (protocol, method, source, target) with the scores;
        ``summary``: per protocol and method (and corruption, for corrupted scorings), the
        mean and worst target-domain scores;
        ``gates``: per method, the mean gate of every column over the leave-one-domain-out
        folds (and the official split's fit) and how often it was selected;
        ``untrusted``: per method and modality, those fits in which that modality kept no
        column (modality trust: prediction fell back on the earlier modalities); ``chosen``:
        the selected parameters; ``validation``: per fit, the chosen candidate's scores on
        each training domain held out in turn by its grid search (on held-out rows with
        one training domain); ``recommended``:
        per protocol, the method that validation picks (never the targets) beside the best
        row; ``fits``: per fit, what the fitted estimator did (environments, penalty, the
        outcome of each modality's selection, hashes of its predictions); ``skipped``: the
        methods not fitted and why; ``seconds``.
    """
    start = time.perf_counter()
    catalog = make_methods(modalities, task, max_epochs=max_epochs, random_state=random_state)
    names = list(METHODS if methods is None else methods)
    unknown = sorted(set(names) - set(catalog))
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; choose from {list(catalog)}.")
    names, skipped = distinct_methods(names, modalities)
    domain = np.asarray(sample_domain)
    context = _context_spec(
        X, modalities, context_group, context_order, context_summaries, context_modalities
    )
    if context is not None:
        extended = context[0].context_modalities(modalities, np.shape(X)[1])
        context_catalog = make_methods(
            extended, task, max_epochs=max_epochs, random_state=random_state
        )
        more, skipped_more = distinct_methods(names, extended)
        names = names + [name + CONTEXT_SUFFIX for name in more]
        skipped.update({name + CONTEXT_SUFFIX: why for name, why in skipped_more.items()})
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ValueError(f"Unknown protocols {unknown}; choose from {list(PROTOCOLS)}.")
    is_test = scored_rows(split, protocols, len(domain))
    corruptions = check_corruptions(corruptions, modalities)
    splits = protocol_splits(domain, protocols, is_test)
    run = {
        "format": 2,  # what a fit stores (validation scores and facts since format 2)
        "standardize": bool(standardize),
        "data": fingerprint(X, y, domain, sample_group, is_test),
        "corruptions": [list(c) for c in corruptions],
        "task": task,
        "methods": names,
        "protocols": list(protocols),
        "max_epochs": max_epochs,
        "random_state": random_state,
        **(
            {}
            if context is None
            else {
                "context": [
                    fingerprint(context[1], context[2]),
                    list(context[0].summaries),
                    context[0].columns.tolist(),
                ]
            }
        ),
    }
    store = Checkpoint(checkpoint, run)
    units = [
        (protocol, sources, targets, name)
        for protocol, sources, targets in splits
        for name in names
    ]
    pending = [u for u in units if json.dumps(unit_key(u[0], u[1], u[3])) not in store.done]
    group = None if sample_group is None else np.asarray(sample_group)
    # Longest first: the last fits to finish are then short ones, and no worker idles long
    # at the end while another finishes a long one. Each fit is the same in any order.
    batches = sorted(share_stages(pending), key=expected_cost, reverse=True)
    shared = (X, y, domain, group)

    def unit_arguments(protocol, sources, targets, name):
        train, test = rows_of(protocol, sources, domain, is_test)
        if name.endswith(CONTEXT_SUFFIX):
            own = (context_catalog[base_method(name)], extended, context)
        else:
            own = (catalog[name], modalities, None)
        return (
            own[0],
            *shared,
            train,
            test,
            targets,
            task,
            random_state,
            unit_key(protocol, sources, name),
            corruptions,
            own[1],
            standardize,
            own[2],
        )

    arguments = [[unit_arguments(*unit) for unit in batch] for batch in batches]
    costs = [expected_cost([unit]) for batch in batches for unit in batch]
    progress = Progress(len(units), verbose, done=len(store.done), costs=costs)
    run_units(batches, arguments, store, progress, n_jobs)
    done = [(p, s, name, store.done[json.dumps(unit_key(p, s, name))]) for p, s, _, name in units]
    return {
        "task": task,
        **collect(done, task),
        "skipped": skipped,
        "seconds": time.perf_counter() - start,
    }


def _context_spec(X, modalities, group, order, summaries, names):
    """``(GroupContext, group, order)`` of the protocol's context, or None without a group."""
    if group is None:
        if order is not None:
            raise ValueError("context_order needs context_group: the groups it orders.")
        return None
    n_samples = np.shape(X)[0]
    group = np.asarray(group)
    if group.shape != (n_samples,):
        raise ValueError(
            f"context_group has shape {group.shape}; expected ({n_samples},), one per row."
        )
    if order is not None:
        order = np.asarray(order)
        if order.shape != (n_samples,):
            raise ValueError(
                f"context_order has shape {order.shape}; expected ({n_samples},), one per row."
            )
    names = [next(iter(modalities))] if names is None else list(names)
    unknown = [name for name in names if name not in modalities]
    if unknown:
        raise ValueError(
            f"context_modalities names {unknown}, which are not modalities ({list(modalities)})."
        )
    columns = np.concatenate([np.asarray(modalities[name], dtype=int) for name in names])
    transformer = GroupContext(summaries=tuple(summaries), columns=columns)
    transformer._check_summaries()  # a bad summary is named before any fit
    return transformer, group, order


def evaluate_dataset(
    data, *, protocols=None, sample_group=False, corruptions=None, context=False, **kwargs
):
    """:func:`evaluate_domain_generalization` on a dataset Bunch of the loaders.

    Parameters
    ----------
    data : Bunch
        What :func:`~sklearn_seqinv.datasets.load_dataset` (or a loader) returns: ``X``,
        ``y``, ``sample_domain``, ``modalities`` and ``task``; ``split`` and ``protocols``
        where the data has its own split, ``sample_group`` where it has sub-groups.
    protocols : tuple of str or None, default=None
        The data's own protocols when it names them (``official_split`` for the bc-LSTM
        features), else leave-one-domain-out and single-source.
    sample_group : bool, default=False
        Pass the data's sub-groups (videos, episodes) as ``sample_group``.
    context : bool, default=False
        Also fit every method with the context of each row (the other utterances of its
        video or dialogue: the data's ``context_group`` and ``sample_order``, see
        :func:`evaluate_domain_generalization`'s ``context_group``).
    corruptions : list of (str, str) or str, default=None
        As in :func:`evaluate_domain_generalization`; ``"video:noise"`` strings work too.
    **kwargs
        Passed on: ``methods``, ``max_epochs``, ``random_state``, ``verbose``, ``n_jobs``,
        ``checkpoint``, ``standardize``.

    Returns
    -------
    results : dict
        As :func:`evaluate_domain_generalization` returns.

    Examples
    --------
    >>> from sklearn_seqinv.datasets import load_dataset
    >>> data = load_dataset(n_samples=120, random_state=0)
    >>> results = evaluate_dataset(data, methods=["linear"], verbose=0)
    >>> sorted({r["protocol"] for r in results["records"]})
    ['leave_one_domain_out', 'single_source']
    """
    protocols = protocols or getattr(data, "protocols", DEFAULT_PROTOCOLS)
    groups = getattr(data, "sample_group", None)
    if sample_group and groups is None:
        raise ValueError(f"sample_group=True: the data ({data.description}) has no sub-groups.")
    if context:
        if getattr(data, "context_group", None) is None:
            raise ValueError(
                f"context=True: the data ({data.description}) names no context_group (the "
                "video or dialogue of each row)."
            )
        kwargs = {
            "context_group": data.context_group,
            "context_order": getattr(data, "sample_order", None),
            **kwargs,
        }
    return evaluate_domain_generalization(
        data.X,
        data.y,
        data.sample_domain,
        data.modalities,
        task=data.task,
        protocols=protocols,
        split=getattr(data, "split", None) if "official_split" in protocols else None,
        sample_group=groups if sample_group else None,
        corruptions=[
            tuple(c.split(":", 1)) if isinstance(c, str) else c for c in corruptions or ()
        ],
        **kwargs,
    )


def evaluate_seeds(load, seeds, **kwargs):
    """:func:`evaluate_dataset` over several seeds, each on the data ``load(seed)`` gives.

    Yields ``(seed, data, results)`` as each seed finishes (``random_state`` is the seed);
    :func:`aggregate_runs` sums the runs up.

    Examples
    --------
    >>> from sklearn_seqinv.datasets import load_dataset
    >>> runs = evaluate_seeds(lambda seed: load_dataset(n_samples=120, random_state=seed),
    ...                       [0, 1], methods=["linear"], verbose=0)
    >>> [seed for seed, _, _ in runs]
    [0, 1]
    """
    for seed in seeds:
        data = load(seed)
        yield seed, data, evaluate_dataset(data, random_state=seed, **kwargs)
