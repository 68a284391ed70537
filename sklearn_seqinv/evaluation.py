"""The domain-generalization protocol: methods side by side, per target domain.

``evaluate_domain_generalization`` runs leave-one-domain-out (multi-source DG) and
single-source DG (train on one domain, test on each other) for the sequential method and its
ablations and baselines. Model selection uses held-out parts of the *training* domains only
(DomainBed's training-domain validation, :class:`~sklearn_seqinv.model_selection.
TrainingDomainHoldout`), never the target. The selection methods' candidates always include
"no selection" (ungated heads) and "no penalty" (plain sparse ERM), so a selected model falls
back to ERM when the method cannot help (DomainBed's lesson: with honest model selection, ERM
is hard to beat).
"""

import contextlib
import json
import time
import warnings

import numpy as np
import torch
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import has_fit_parameter
from threadpoolctl import threadpool_limits

from ._aggregate import average_gates, fit_facts, primary_metric, recommend, summarize
from ._markdown import markdown_table
from ._methods import METHODS
from ._protocols import PROTOCOLS, SELECTION_PROTOCOLS, protocol_splits, rows_of, scored_rows
from ._report import aggregate_runs, corruption_table, results_to_markdown, write_results
from ._runlog import Checkpoint, Progress, fingerprint, json_ready
from ._selector import InvariantMaskSelector
from ._sequential import (
    SequentialModalityClassifier,
    SequentialModalityRegressor,
    shared_stage_fits,
)
from ._shifts import CORRUPTIONS, check_corruptions, corrupt_rows
from .metrics import msa_scores
from .model_selection import TrainingDomainHoldout

__all__ = [
    "CORAL_HIDDEN_UNITS",
    "CORRUPTIONS",
    "LINEAR_C_GRID",
    "METHODS",
    "PROTOCOLS",
    "aggregate_runs",
    "corruption_table",
    "evaluate_domain_generalization",
    "make_methods",
    "markdown_table",
    "results_to_markdown",
    "selection_grid",
    "tuned_linear",
    "write_results",
]


#: Hidden width of the ERM + CORAL baseline's head (the representation CORAL matches).
CORAL_HIDDEN_UNITS = 16

#: The regularization strengths ``C`` searched for the tuned linear baselines.
LINEAR_C_GRID = tuple(float(c) for c in np.logspace(-4, 1, 11))


def tuned_linear(task, *, random_state=0):
    """The strongest simple baseline: a linear model tuned on the training domains.

    ``StandardScaler`` then ``LogisticRegression`` (``C`` in :data:`LINEAR_C_GRID`) or
    ``Ridge`` (``alpha = 1 / C``), searched by ``GridSearchCV`` on
    :class:`~sklearn_seqinv.model_selection.TrainingDomainHoldout`; fit it with
    ``groups=sample_domain``.

    Examples
    --------
    >>> type(tuned_linear("classification").cv).__name__
    'TrainingDomainHoldout'
    """
    model, grid = _linear(task)
    pipe = Pipeline([("scale", StandardScaler()), ("model", model)])
    return GridSearchCV(pipe, grid, cv=TrainingDomainHoldout(random_state=random_state))


def _linear(task):
    """The linear model of ``task`` and its grid over the regularization strength."""
    if task == "classification":
        return LogisticRegression(max_iter=2000), {"model__C": list(LINEAR_C_GRID)}
    return Ridge(), {"model__alpha": [1.0 / c for c in LINEAR_C_GRID]}


def selection_grid(modality_names, sparsities=(4.0,), *, estimator=None):
    """Parameter grid of a sequential meta-estimator with the ERM fallbacks built in.

    Parameters
    ----------
    modality_names : list of str or sequential meta-estimator
        The modalities (the meta-estimator's step names), in learning order, or the
        meta-estimator itself (its modalities are read).
    sparsities : tuple of float, default=(4.0,)
        Sparsity weights to try (the same for every modality; the weight is width-free).
    estimator : SequentialModalityClassifier, SequentialModalityRegressor or None, \
            default=None
        The meta-estimator the grid is for: every name must be one of its modalities, or
        a ``ValueError`` names the unknown ones (without it, a misspelt name fails only
        when the search sets the parameter).

    Returns
    -------
    grid : list of dict
        For each sparsity the method as configured; then "no penalty" (``invariance=None``
        everywhere: sparse ERM gates) and "no selection" (``gate=None`` for the first
        modality: its ungated head, as a tuned linear model). Later modalities keep their
        gates and their tie-invariance test in every candidate: training-domain validation
        prefers a spurious column whose tie keeps its sign across the training domains, so
        a candidate without the test would win the search and bring it back.

    Examples
    --------
    >>> for candidate in selection_grid(["text", "video"]):
    ...     print(sorted(candidate))
    ['text__sparsity', 'video__sparsity']
    ['text__invariance', 'video__invariance']
    ['text__gate']
    """
    if hasattr(modality_names, "modalities"):
        estimator, modality_names = modality_names, None
    known = None if estimator is None else [name for name, _, _ in estimator.modalities]
    names = list(known if modality_names is None else modality_names)
    if not names or not all(isinstance(name, str) for name in names):
        raise ValueError(f"modality_names must be a non-empty list of str; got {names!r}.")
    if len(set(names)) < len(names):
        raise ValueError(f"modality_names repeats a name: {names!r}.")
    unknown = [name for name in names if known is not None and name not in known]
    if unknown:
        raise ValueError(
            f"selection_grid got modalities {unknown} that {type(estimator).__name__} does "
            f"not have; its modalities are {known}."
        )
    grid = [{f"{name}__sparsity": [float(s)] for name in names} for s in sparsities]
    grid.append({f"{name}__invariance": [None] for name in names})
    grid.append({f"{names[0]}__gate": [None]})
    return grid


def _video_first(steps):
    """The ablation's order: the video modality first, then the others in their order.

    Without a modality named "video", the second modality moves to the front (the first
    one after the text).
    """
    names = [name for name, _, _ in steps]
    lead = names.index("video") if "video" in names else min(1, len(names) - 1)
    return [steps[lead]] + [step for i, step in enumerate(steps) if i != lead]


def make_methods(modalities, task, *, max_epochs=100, random_state=0):
    """The estimators the protocol compares, by name (see :data:`METHODS`).

    Parameters
    ----------
    modalities : dict of str to array of int
        Modality name -> its columns, in learning order (the first is the text).
    task : {"classification", "regression"}
        Learning task.
    max_epochs : int, default=100
        Epochs of every torch model.
    random_state : int, default=0
        Seed of every model.

    Returns
    -------
    methods : dict of str to (estimator, param_grid or None)
        The selection methods search :func:`selection_grid` (the method, "no penalty" and
        "no selection"), ERM + IRM / V-REx their penalty weight, ``linear_tuned`` and
        ``text_linear`` (the first modality's columns only) the ``C`` of a
        ``LogisticRegression`` (``alpha`` of a ``Ridge``); ERM and ``linear`` (scikit-learn's
        defaults) have nothing to select.
    """
    meta = SequentialModalityClassifier if task == "classification" else SequentialModalityRegressor

    def selector(**params):
        return InvariantMaskSelector(
            task=task, max_epochs=max_epochs, random_state=random_state, **params
        )

    order = list(modalities)
    steps = [(name, selector(), modalities[name]) for name in order]
    grid = selection_grid(meta(steps))
    reordered = _video_first(steps)
    head = dict(gate=None, task=task, max_epochs=max_epochs, random_state=random_state)
    # The penalty weight of the ungated baselines is model-selected too, as DomainBed does.
    penalty_grid = {"invariance_weight": [1.0, 10.0, 100.0]}
    linear, linear_grid = _linear(task)
    tuned = Pipeline([("scale", StandardScaler()), ("model", linear)])
    first = modalities[order[0]]
    text_only = Pipeline(
        [
            ("columns", ColumnTransformer([("text", "passthrough", first)])),
            ("scale", StandardScaler()),
            ("model", clone(linear)),
        ]
    )
    return {
        "text_first": (meta(steps), grid),
        # Each order searches its own grid: "no selection" ungates the modality it fits
        # first, so the ablation differs from the method in its order alone.
        "video_first": (meta(reordered), selection_grid(meta(reordered))),
        "joint": (meta(steps, strategy="joint"), grid),
        "independent": (meta(steps, strategy="independent"), grid),
        "erm": (InvariantMaskSelector(invariance=None, **head), None),
        "erm_irm": (InvariantMaskSelector(invariance="irm", **head), penalty_grid),
        "erm_vrex": (InvariantMaskSelector(invariance="vrex", **head), penalty_grid),
        # CORAL matches the moments of a representation: a hidden layer (DomainBed's
        # featurizer), since an ungated linear head reads the fixed inputs.
        "erm_coral": (
            InvariantMaskSelector(invariance="coral", hidden_units=CORAL_HIDDEN_UNITS, **head),
            {"invariance_weight": [0.1, 1.0, 10.0]},
        ),
        "linear": (make_pipeline(StandardScaler(), clone(linear)), None),
        "linear_tuned": (tuned, linear_grid),
        "text_linear": (text_only, linear_grid),
    }


def _fit(estimator, grid, X, y, domain, random_state, group=None):
    """Fit ``estimator`` on the training rows, choosing from ``grid`` on held-out rows of the
    training domains; returns the refitted model, the chosen parameters and its validation
    score (the estimator's own ``score`` on the held-out rows: accuracy or R²). Methods
    without a grid are validated the same way, so every method has a score that the
    recommendation can compare (it never sees a target domain)."""
    metadata = {"sample_domain": domain, "sample_group": group}
    params = {
        key: value
        for key, value in metadata.items()
        if value is not None and has_fit_parameter(estimator, key)
    }
    holdout = TrainingDomainHoldout(random_state=random_state)
    search = GridSearchCV(clone(estimator), grid or {}, cv=holdout, error_score="raise")
    search.fit(X, y, groups=domain, **params)
    chosen = dict(search.best_params_) if grid is not None else None
    return search.best_estimator_, chosen, float(search.best_score_)


def _scores(task, y_true, y_pred):
    if task == "classification":
        return {
            "accuracy": accuracy_score(y_true, y_pred),
            "f1_weighted": f1_score(y_true, y_pred, average="weighted"),
        }
    if np.all(y_true == 0):
        return {"mae": float(np.mean(np.abs(y_true - y_pred)))}
    return msa_scores(y_true, y_pred)


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
):
    """Run the DG protocols for several methods and score every target domain.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        All modalities side by side, standardized (a scaler fitted on the rows that are
        fitted on, such as the training split; never on the rows that are scored).
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
        the selected
        parameters; ``seconds``.
    """
    start = time.perf_counter()
    catalog = make_methods(modalities, task, max_epochs=max_epochs, random_state=random_state)
    names = list(METHODS if methods is None else methods)
    unknown = sorted(set(names) - set(catalog))
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; choose from {list(catalog)}.")
    names, skipped = _distinct_methods(names, modalities)
    domain = np.asarray(sample_domain)
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ValueError(f"Unknown protocols {unknown}; choose from {list(PROTOCOLS)}.")
    is_test = scored_rows(split, protocols, len(domain))
    corruptions = check_corruptions(corruptions, modalities)
    splits = protocol_splits(domain, protocols, is_test)
    run = {
        "format": 2,  # what a fit stores (validation scores and facts since format 2)
        "data": fingerprint(X, y, domain, sample_group, is_test),
        "corruptions": [list(c) for c in corruptions],
        "task": task,
        "methods": names,
        "protocols": list(protocols),
        "max_epochs": max_epochs,
        "random_state": random_state,
    }
    store = Checkpoint(checkpoint, run)
    units = [
        (protocol, sources, targets, name)
        for protocol, sources, targets in splits
        for name in names
    ]
    pending = [u for u in units if json.dumps(_key(u[0], u[1], u[3])) not in store.done]
    n_jobs = effective_n_jobs(n_jobs)
    group = None if sample_group is None else np.asarray(sample_group)
    # Longest first: the last fits to finish are then short ones, and no worker idles long
    # at the end while another finishes a long one. Each fit is the same in any order.
    batches = sorted(_share_stages(pending), key=_expected_cost, reverse=True)
    tasks = (
        delayed(_fit_units)(
            [
                (
                    catalog[name],
                    X,
                    y,
                    domain,
                    group,
                    train,
                    test,
                    targets,
                    task,
                    random_state,
                    _key(protocol, sources, name),
                    corruptions,
                    modalities,
                )
                for protocol, sources, targets, name in batch
                for train, test in [rows_of(protocol, sources, domain, is_test)]
            ],
        )
        for batch in batches
    )
    costs = [_expected_cost([unit]) for batch in batches for unit in batch]
    progress = Progress(len(units), verbose, done=len(store.done), costs=costs)
    # Results come back in submission order, each batch as soon as it and those before it
    # finish, so each fit is in the checkpoint before the next batch is awaited.
    finished = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
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
            # Raised in a worker, shown here: under the caller's warning filters.
            for message, category, filename, lineno in caught:
                warnings.warn_explicit(message, category, filename, lineno, registry=seen)
    finally:
        # On an error, the fits still to come are cancelled (joblib's note on it is noise).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\d+ tasks (have been|which were)")
            finished.close()
    progress.close()
    records, gates, chosen, untrusted, validation, facts = [], {}, [], {}, [], []
    for protocol, sources, _, name in units:
        key = _key(protocol, sources, name)
        unit = store.done[json.dumps(key)]
        records += unit["records"]
        entry = {"protocol": protocol, "method": name, "sources": key[1]}
        validation.append({**entry, "score": unit["validation"]})
        facts.append({**entry, **unit["facts"]})
        if unit["params"]:
            chosen.append(
                {"protocol": protocol, "method": name, "sources": key[1], **unit["params"]}
            )
        if protocol in SELECTION_PROTOCOLS:
            if unit["gates"]:
                gates.setdefault(name, []).append(unit["gates"])
            for modality, kept in (unit["trust"] or {}).items():
                counts = untrusted.setdefault(name, {}).setdefault(modality, [0, 0])
                counts[0] += not kept
                counts[1] += 1
    summary = summarize(records)
    return {
        "task": task,
        "records": records,
        "summary": summary,
        "gates": average_gates(gates),
        "untrusted": {
            method: {m: {"folds_without": c[0], "folds": c[1]} for m, c in per.items() if c[0]}
            for method, per in untrusted.items()
            if any(c[0] for c in per.values())
        },
        "chosen": chosen,
        "validation": validation,
        "recommended": recommend(validation, summary, primary_metric(task)),
        "fits": facts,
        "skipped": skipped,
        "seconds": time.perf_counter() - start,
    }


#: Methods that differ from ``text_first`` only in the order or the grouping of their
#: modalities: with one modality they are the same fit.
_ORDER_VARIANTS = ("video_first", "joint", "independent")


def _distinct_methods(names, modalities):
    """``names`` without the order variants that one modality makes identical to
    ``text_first``, and why each left out one was left out."""
    if len(modalities) > 1 or "text_first" not in names:
        return names, {}
    why = (
        "with one modality the order and the grouping of the modalities cannot differ: it "
        "is the text_first fit, not fitted twice"
    )
    skipped = {name: why for name in names if name in _ORDER_VARIANTS}
    return [name for name in names if name not in skipped], skipped


def _key(protocol, sources, name):
    """The identity of one fit: protocol, training domains, method."""
    return [protocol, [str(s) for s in sources], name]


#: Torch and BLAS threads of every fit of the protocol, whatever ``n_jobs``.
FIT_THREADS = 1


@contextlib.contextmanager
def _thread_limit(threads):
    """At most ``threads`` threads for torch and the BLAS libraries; restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)


#: Methods whose meta-estimators repeat each other's stages on a split (text-first's text
#: stage is independent's, video-first's video stage too): fitted in one batch.
_SHARING = ("text_first", "video_first", "independent")


def _share_stages(pending):
    """``pending`` fits in batches: the methods of :data:`_SHARING` on one split together."""
    batches, by_split = [], {}
    for unit in pending:
        protocol, sources, _, name = unit
        if name not in _SHARING:
            batches.append([unit])
            continue
        split = (protocol, tuple(map(str, sources)))
        if split not in by_split:
            by_split[split] = []
            batches.append(by_split[split])
        by_split[split].append(unit)
    return batches


#: Rough relative cost of a fit of each method (gated meta-estimators search three
#: candidates over several stages; the penalized ERM heads are full-batch L-BFGS fits).
_METHOD_COST = {
    "text_first": 3.0,
    "video_first": 3.0,
    "joint": 3.0,
    "independent": 3.0,
    "erm_irm": 1.0,
    "erm_vrex": 1.0,
    "erm_coral": 2.0,
}


def _expected_cost(batch):
    """Rough relative cost of a batch of fits: method weight times training domains."""
    return sum(_METHOD_COST.get(name, 0.2) * len(sources) for _, sources, _, name in batch)


def _fit_units(units):
    """:func:`_fit_unit` of every unit, on :data:`FIT_THREADS` threads, and the warnings
    they raised as ``(message, category, filename, lineno)``.

    The units share identical stage fits (:func:`~sklearn_seqinv._sequential.
    shared_stage_fits`): each is still fitted as if alone, bit for bit. Warnings are
    recorded rather than shown: a worker process does not have the caller's warning filters
    (and would print to its own stderr), so the caller shows them.
    """
    with _thread_limit(FIT_THREADS), shared_stage_fits():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = [_fit_unit(*args) for args in units]
    return results, [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


def _fit_unit(
    method,
    X,
    y,
    domain,
    group,
    train,
    test,
    targets,
    task,
    random_state,
    key,
    corruptions=(),
    modalities=None,
):
    """Fit one method on the training rows and score it on every target domain of the test
    rows, clean and under each corruption.

    Returns a JSON-ready dict: the records, the chosen parameters, and the gates and
    modality trust of a fitted meta-estimator.
    """
    estimator, grid = method
    group = None if group is None else group[train]
    if group is None and len(np.unique(domain[train])) == 1:
        grid = _one_environment(grid)
    fitted, params, validation = _fit(
        estimator, grid, X[train], y[train], domain[train], random_state, group
    )
    protocol, sources, name = key
    records = []
    shifts = [(None, X[test], None)]
    for i, (modality, kind) in enumerate(corruptions):
        rows, imputed = corrupt_rows(
            X, fitted, train, test, modalities[modality], kind, [random_state, i]
        )
        shifts.append((f"{modality}:{kind}", rows, imputed))
    test_domain, test_y = domain[test], y[test]
    for corruption, rows, imputed in shifts:
        predicted = fitted.predict(rows)
        if corruption is None:
            clean = predicted
        for target in targets:
            at = test_domain == target
            scores = _scores(task, test_y[at], predicted[at])
            records.append(
                {
                    "protocol": protocol,
                    "method": name,
                    "sources": sources,
                    "target": str(target),
                    **({} if corruption is None else {"corruption": corruption}),
                    **({} if imputed is None else {"imputed": imputed}),
                    **{k: float(v) for k, v in scores.items()},
                }
            )
    # A fitted meta-estimator's selection per modality; other methods have none.
    selection = getattr(fitted, "selection_", None)
    facts = fit_facts(fitted, domain[train], clean)
    trust = getattr(fitted, "modality_trust_", None)
    return {
        "key": key,
        "records": records,
        "params": {k: json_ready(v) for k, v in (params or {}).items()},
        "validation": validation,
        "facts": facts,
        "gates": (
            None
            if selection is None
            else {
                m: [s.gates.tolist(), s.support.tolist(), facts["stages"][m]["outcome"] == "dense"]
                for m, s in selection.items()
            }
        ),
        "trust": None if trust is None else {m: bool(v) for m, v in trust.items()},
    }


def _one_environment(grid):
    """``grid`` without its "no penalty" candidate, which one environment makes redundant.

    On one training environment every invariance penalty of the gate phase is zero, so the
    candidate that only switches the penalties off fits bit for bit the model of the
    candidate before it; searching it costs a fit and changes nothing (a tie goes to the
    first candidate).
    """
    if not isinstance(grid, list):
        return grid
    return [
        candidate
        for candidate in grid
        if not all(key.endswith("__invariance") for key in candidate)
    ]
