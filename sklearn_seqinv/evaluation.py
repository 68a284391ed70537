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

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import has_fit_parameter

from ._markdown import markdown_table
from ._methods import METHODS
from ._selector import InvariantMaskSelector
from ._sequential import SequentialModalityClassifier, SequentialModalityRegressor
from .inspection import stability_summary
from .metrics import msa_scores
from .model_selection import TrainingDomainHoldout

__all__ = [
    "LINEAR_C_GRID",
    "METHODS",
    "aggregate_runs",
    "evaluate_domain_generalization",
    "make_methods",
    "markdown_table",
    "results_to_markdown",
    "selection_grid",
    "tuned_linear",
    "write_results",
]


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


def selection_grid(modality_names, sparsities=(4.0,)):
    """Parameter grid of a sequential meta-estimator with the ERM fallbacks built in.

    Parameters
    ----------
    modality_names : list of str
        The modalities (the meta-estimator's step names).
    sparsities : tuple of float, default=(4.0,)
        Sparsity weights to try (the same for every modality; the weight is width-free).

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
    grid = [{f"{name}__sparsity": [float(s)] for name in modality_names} for s in sparsities]
    grid.append({f"{name}__invariance": [None] for name in modality_names})
    grid.append({f"{modality_names[0]}__gate": [None]})
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
    grid = selection_grid(order)
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
        "video_first": (meta(_video_first(steps)), grid),
        "joint": (meta(steps, strategy="joint"), grid),
        "independent": (meta(steps, strategy="independent"), grid),
        "erm": (InvariantMaskSelector(invariance=None, **head), None),
        "erm_irm": (InvariantMaskSelector(invariance="irm", **head), penalty_grid),
        "erm_vrex": (InvariantMaskSelector(invariance="vrex", **head), penalty_grid),
        "linear": (make_pipeline(StandardScaler(), clone(linear)), None),
        "linear_tuned": (tuned, linear_grid),
        "text_linear": (text_only, linear_grid),
    }


def _fit(estimator, grid, X, y, domain, random_state, group=None):
    metadata = {"sample_domain": domain, "sample_group": group}
    params = {
        key: value
        for key, value in metadata.items()
        if value is not None and has_fit_parameter(estimator, key)
    }
    if grid is None:
        return clone(estimator).fit(X, y, **params), None
    holdout = TrainingDomainHoldout(random_state=random_state)
    search = GridSearchCV(clone(estimator), grid, cv=holdout, error_score="raise")
    search.fit(X, y, groups=domain, **params)
    return search.best_estimator_, dict(search.best_params_)


def _scores(task, y_true, y_pred):
    if task == "classification":
        return {
            "accuracy": accuracy_score(y_true, y_pred),
            "f1_weighted": f1_score(y_true, y_pred, average="weighted"),
        }
    if np.all(y_true == 0):
        return {"mae": float(np.mean(np.abs(y_true - y_pred)))}
    return msa_scores(y_true, y_pred)


def _gates(estimator):
    """Gate values and selection of each modality of a fitted meta-estimator, else None."""
    if not hasattr(estimator, "modalities_"):
        return None
    return {name: (s.gates, s.support) for name, s in estimator.selection_.items()}


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
):
    """Run the DG protocols for several methods and score every target domain.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        All modalities side by side (standardize first).
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
        Which protocols to run.
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

    Returns
    -------
    results : dict
        ``records``: one dict per (protocol, method, source, target) with the scores;
        ``summary``: per protocol and method, the mean and worst target-domain scores;
        ``gates``: per method, the mean gate of every column over the leave-one-domain-out
        folds and how often it was selected; ``untrusted``: per method and modality, the
        leave-one-domain-out folds in which that modality kept no column (modality trust:
        prediction fell back on the earlier modalities); ``chosen``: the selected
        parameters; ``seconds``.
    """
    start = time.perf_counter()
    catalog = make_methods(modalities, task, max_epochs=max_epochs, random_state=random_state)
    names = list(METHODS if methods is None else methods)
    unknown = sorted(set(names) - set(catalog))
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; choose from {list(catalog)}.")
    domain = np.asarray(sample_domain)
    labels = list(np.unique(domain))
    if len(labels) < 2:
        raise ValueError("Domain generalization needs at least 2 domains in sample_domain.")
    splits = []
    if "leave_one_domain_out" in protocols:
        splits += [("leave_one_domain_out", [d for d in labels if d != t], [t]) for t in labels]
    if "single_source" in protocols:
        splits += [("single_source", [s], [d for d in labels if d != s]) for s in labels]
    run = {
        "data": _fingerprint(X, y, domain, sample_group),
        "task": task,
        "methods": names,
        "protocols": list(protocols),
        "max_epochs": max_epochs,
        "random_state": random_state,
    }
    store = _Checkpoint(checkpoint, run)
    records, gates, chosen, untrusted = [], {}, [], {}
    progress = _Progress(len(splits) * len(names), verbose, done=len(store.done))
    for protocol, sources, targets in splits:
        train = np.isin(domain, sources)
        for name in names:
            key = [protocol, [str(s) for s in sources], name]
            unit = store.done.get(json.dumps(key))
            if unit is None:
                progress.start(f"{protocol} {name} sources={','.join(map(str, sources))}")
                group = None if sample_group is None else np.asarray(sample_group)[train]
                unit = _fit_unit(
                    catalog[name], X, y, domain, train, targets, task, random_state, group, key
                )
                store.add(unit)
                progress.done()
            records += unit["records"]
            if unit["params"]:
                chosen.append(
                    {"protocol": protocol, "method": name, "sources": key[1], **unit["params"]}
                )
            if protocol == "leave_one_domain_out":
                if unit["gates"]:
                    gates.setdefault(name, []).append(unit["gates"])
                for modality, kept in (unit["trust"] or {}).items():
                    counts = untrusted.setdefault(name, {}).setdefault(modality, [0, 0])
                    counts[0] += not kept
                    counts[1] += 1
    progress.close()
    return {
        "task": task,
        "records": records,
        "summary": _summarize(records),
        "gates": _average_gates(gates),
        "untrusted": {
            method: {m: {"folds_without": c[0], "folds": c[1]} for m, c in per.items() if c[0]}
            for method, per in untrusted.items()
            if any(c[0] for c in per.values())
        },
        "chosen": chosen,
        "seconds": time.perf_counter() - start,
    }


def _fit_unit(method, X, y, domain, train, targets, task, random_state, group, key):
    """Fit one method on the training rows and score it on every target domain.

    Returns a JSON-ready dict: the records, the chosen parameters, and the gates and
    modality trust of a fitted meta-estimator.
    """
    estimator, grid = method
    fitted, params = _fit(estimator, grid, X[train], y[train], domain[train], random_state, group)
    protocol, sources, name = key
    records = []
    for target in targets:
        rows = domain == target
        scores = _scores(task, y[rows], fitted.predict(X[rows]))
        records.append(
            {
                "protocol": protocol,
                "method": name,
                "sources": sources,
                "target": str(target),
                **{k: float(v) for k, v in scores.items()},
            }
        )
    found = _gates(fitted)
    trust = getattr(fitted, "modality_trust_", None)
    return {
        "key": key,
        "records": records,
        "params": {k: _json_ready(v) for k, v in (params or {}).items()},
        "gates": (
            {m: [g.tolist(), s.astype(bool).tolist()] for m, (g, s) in found.items()}
            if found
            else None
        ),
        "trust": None if trust is None else {m: bool(v) for m, v in trust.items()},
    }


def _json_ready(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _fingerprint(*arrays):
    """A digest of the data, so a checkpoint is never resumed on other data."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.asarray(array)
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(
            np.ascontiguousarray(array).tobytes()
            if array.dtype.kind != "O"
            else "\x1f".join(map(str, array.ravel())).encode()
        )
    return digest.hexdigest()


class _Checkpoint:
    """The JSON-lines file of finished fits: a header line, then one line per fit.

    Lines are appended (and the file closed) as each fit finishes, so a kill loses at
    most the fit in progress; a last line cut short by the kill is ignored on resume.
    """

    def __init__(self, path, run):
        self.path, self.done = (None if path is None else Path(path)), {}
        if self.path is None:
            return
        header = {"checkpoint_of": run}
        if self.path.is_file() and self.path.stat().st_size:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            try:
                first = json.loads(lines[0])
            except json.JSONDecodeError:
                first = None
            if first != json.loads(json.dumps(header)):
                raise ValueError(
                    f"{self.path} is the checkpoint of another run (other data, methods, "
                    "protocols, epochs or seed); remove it or choose another file."
                )
            for line in lines[1:]:
                try:
                    unit = json.loads(line)
                except json.JSONDecodeError:
                    break  # the line being written when the run was stopped
                self.done[json.dumps(unit["key"])] = unit
            # Rewrite without a cut-short line, so new lines start on a fresh one.
            self.path.write_text(
                "".join(json.dumps(u) + "\n" for u in [header, *self.done.values()]),
                encoding="utf-8",
            )
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(header) + "\n", encoding="utf-8")

    def add(self, unit):
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(unit) + "\n")


class _Progress:
    """Progress over every fit: a tqdm bar on a terminal, else one plain line per fit.

    Both count fits (not splits) out of the total and estimate the time left; neither
    writes colour codes, and a piped log gets whole lines instead of carriage returns.
    """

    def __init__(self, total, verbose, done=0):
        self.total, self.verbose, self.count, self.resumed = total, verbose, done, done
        self.begin = time.perf_counter()
        self.bar = None
        if not verbose:
            return
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, initial=done, unit="fit", file=sys.stderr, dynamic_ncols=True
            )
        else:
            resumed = f" ({done} already done, resuming)" if done else ""
            print(f"Fitting {total} models (every split and method){resumed}...", flush=True)

    def start(self, label):
        self.label, self.tick = label, time.perf_counter()
        if self.bar is not None:
            self.bar.set_description(label)

    def done(self):
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.verbose:
            now = time.perf_counter()
            fitted = self.count - self.resumed
            left = (now - self.begin) / fitted * (self.total - self.count)
            print(
                f"[{self.count}/{self.total}] {self.label}: {now - self.tick:.1f}s "
                f"(about {left:.0f}s left)",
                flush=True,
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _summarize(records):
    summary = {}
    for record in records:
        key = (record["protocol"], record["method"])
        summary.setdefault(key, []).append(record)
    out = []
    for (protocol, method), rows in summary.items():
        metrics = [k for k in rows[0] if k not in ("protocol", "method", "sources", "target")]
        entry = {"protocol": protocol, "method": method}
        for metric in metrics:
            values = np.array([r[metric] for r in rows])
            worst = values.max() if metric == "mae" else values.min()
            entry[f"{metric}_mean"] = float(values.mean())
            entry[f"{metric}_worst"] = float(worst)
        out.append(entry)
    return out


def _average_gates(per_method):
    """Per method and modality: mean gate, selection share and Jaccard over the folds."""
    out = {}
    for method, folds in per_method.items():
        out[method] = {}
        for name in folds[0]:
            stability = stability_summary([f[name][1] for f in folds])
            out[method][name] = {
                "gate_mean": np.mean([f[name][0] for f in folds], axis=0).tolist(),
                "selected_share": stability.frequency.tolist(),
                "jaccard": stability.jaccard,
                "n_folds": stability.n_refits,
            }
    return out


_TABLE_METRICS = {
    "classification": ("accuracy", "f1_weighted"),
    "regression": ("has0_acc2", "has0_f1", "non0_acc2", "mult_acc7", "mae", "corr"),
}


def results_to_markdown(results):
    """Markdown table of the summary: mean / worst target domain per protocol and method."""
    metrics = [
        m
        for m in _TABLE_METRICS[results["task"]]
        if any(f"{m}_mean" in row for row in results["summary"])
    ]
    table = markdown_table(
        ["protocol", "method", *(f"{m} mean / worst" for m in metrics)],
        [
            [
                row["protocol"],
                row["method"],
                *(f"{row[f'{m}_mean']:.3f} / {row[f'{m}_worst']:.3f}" for m in metrics),
            ]
            for row in results["summary"]
        ],
    )
    notes = _footnotes(results, metrics)
    return table + "".join(f"\n- {note}" for note in notes) + ("\n" if notes else "")


def aggregate_runs(runs, metrics=("has0_acc2",)):
    """Markdown table over several runs (seeds) of :func:`evaluate_domain_generalization`.

    Per protocol and method: for each metric, the mean over runs of the mean target-domain
    score, its standard deviation over runs, and the mean over runs of the worst domain.

    Parameters
    ----------
    runs : list of dict
        Results of the runs.
    metrics : tuple of str, default=("has0_acc2",)
        Metrics to show.

    Returns
    -------
    table : str
        ``Mean over N runs.`` and the table.

    Examples
    --------
    >>> run = {"summary": [{"protocol": "p", "method": "m", "accuracy_mean": 0.8,
    ...                     "accuracy_worst": 0.7}]}
    >>> print(aggregate_runs([run, run], metrics=("accuracy",)).splitlines()[-1])
    | p | m | 0.800 | 0.000 | 0.700 |
    """
    entries = {}
    for run in runs:
        for entry in run["summary"]:
            entries.setdefault((entry["protocol"], entry["method"]), []).append(entry)
    header = ["protocol", "method"]
    for m in metrics:
        header += [f"{m} mean", f"{m} std over runs", f"{m} worst"]
    rows = []
    for (protocol, method), found in entries.items():
        row = [protocol, method]
        for m in metrics:
            means = [e[f"{m}_mean"] for e in found]
            row += [
                float(np.mean(means)),
                float(np.std(means)),
                float(np.mean([e[f"{m}_worst"] for e in found])),
            ]
        rows.append(row)
    return f"Mean over {len(runs)} runs.\n\n" + markdown_table(header, rows)


def write_results(folder, results, *, title, metadata=None):
    """Write ``results.json``, ``results.md`` and the plots of one evaluation into ``folder``.

    Parameters
    ----------
    folder : str or Path
        Output folder (created if needed).
    results : dict
        What :func:`evaluate_domain_generalization` returned.
    title : str
        What was evaluated, for the Markdown heading.
    metadata : dict or None, default=None
        Entries written at the top of ``results.json`` (version, data, arguments).

    Returns
    -------
    written : list of str
        File names written; plots are left out without matplotlib.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {**(metadata or {}), **results}
    (folder / "results.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (folder / "results.md").write_text(
        f"# Domain generalization on {title}\n\n{results_to_markdown(results)}\n"
        f"Took {results['seconds']:.0f} s.\n"
    )
    written = ["results.json", "results.md"]
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    from .plotting import DomainScoresDisplay, GateDisplay, MaskStabilityDisplay

    def save(display, name):
        display.figure_.savefig(folder / name, dpi=110)
        plt.close(display.figure_)
        written.append(name)

    for protocol in dict.fromkeys(r["protocol"] for r in results["records"]):
        save(
            DomainScoresDisplay.from_results(results, protocol=protocol).plot(),
            f"scores_{protocol}.png",
        )
    for method in results["gates"]:
        display = GateDisplay.from_results(results, method=method).plot()
        display.figure_.suptitle(f"{method}: mean gate over leave-one-domain-out folds")
        display.figure_.tight_layout(rect=(0, 0, 1, 0.96))
        save(display, f"gates_{method}.png")
        save(
            MaskStabilityDisplay.from_results(results, method=method).plot(),
            f"stability_{method}.png",
        )
    return written


_SAME_MODEL = {
    frozenset({"erm", "erm_irm", "erm_vrex"}): (
        "with one training domain the invariance penalties are zero, so ERM + IRM and "
        "ERM + V-REx fit the ERM model"
    ),
}


def _footnotes(results, metrics):
    """Explain results that look like bugs: identical rows, near-zero worst domains."""
    notes = []
    by_protocol = {}
    for row in results["summary"]:
        key = tuple(round(row[f"{m}_{k}"], 12) for m in metrics for k in ("mean", "worst"))
        by_protocol.setdefault(row["protocol"], {}).setdefault(key, []).append(row["method"])
    for protocol, groups in by_protocol.items():
        for methods in groups.values():
            if len(methods) < 2:
                continue
            why = next(
                (text for names, text in _SAME_MODEL.items() if set(methods) <= names),
                "they fit the same model here (with one modality, every order and the joint "
                "fit select from the same columns; with one training domain no penalty applies)",
            )
            notes.append(f"{protocol}: {', '.join(methods)} score the same: {why}.")
    stability = [
        f"{method} " + ", ".join(f"{m} {v['jaccard']:.2f}" for m, v in per.items())
        for method, per in results.get("gates", {}).items()
        if all("jaccard" in v for v in per.values())
    ]
    if stability:
        notes.append(
            "mask stability (mean pairwise Jaccard of the selected columns over the "
            f"leave-one-domain-out folds, 1 = the same columns every time): {'; '.join(stability)}."
        )
    for method, per in results.get("untrusted", {}).items():
        for modality, c in per.items():
            notes.append(
                f"{method}: {modality} added nothing in {c['folds_without']} of {c['folds']} "
                "leave-one-domain-out folds (no column passed as invariant); prediction fell "
                "back on the earlier modalities."
            )
    accuracy = next((m for m in ("accuracy", "has0_acc2") if m in metrics), None)
    low = [
        f"{r['method']} ({r[f'{accuracy}_worst']:.3f})"
        for r in results["summary"]
        if accuracy and r[f"{accuracy}_worst"] < 0.25
    ]
    if low:
        notes.append(
            f"worst-domain {accuracy} below 0.25 for {', '.join(low)}: the model followed a tie "
            "that reverses in that target domain (the generated data and the simulated video are "
            "built with spurious ties that change sign across domains). One training domain "
            "cannot tell such a tie from an invariant one."
        )
    return notes
