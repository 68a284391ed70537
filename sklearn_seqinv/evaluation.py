"""The domain-generalization protocol: methods side by side, per target domain.

``evaluate_domain_generalization`` runs leave-one-domain-out (multi-source DG) and
single-source DG (train on one domain, test on each other) for the sequential method and its
ablations and baselines. Model selection (the sparsity weights) uses held-out parts of the
*training* domains only (DomainBed's training-domain validation), never the target.
"""

import time

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import has_fit_parameter

from ._selector import InvariantMaskSelector
from ._sequential import SequentialModalityClassifier, SequentialModalityRegressor
from .metrics import msa_scores
from .model_selection import TrainingDomainHoldout

__all__ = ["METHODS", "evaluate_domain_generalization", "make_methods", "results_to_markdown"]

METHODS = (
    "text_first",
    "video_first",
    "joint",
    "independent",
    "erm",
    "erm_irm",
    "erm_vrex",
    "linear",
)


def _sparsity_grid(modalities):
    # The sparsity term is a mean over a modality's columns, so wide modalities with a few
    # useful columns need a weight near width / 30 to close their noise gates, while dense
    # embeddings (sentiment spread over many columns) need the default 0.5: the grid offers
    # both, the same multiple for every modality.
    base = {name: max(0.5, len(cols) / 30) for name, cols in modalities.items()}
    grid = [{f"{name}__sparsity": [0.5] for name in modalities}]
    for factor in (0.5, 2.0):
        grid.append({f"{name}__sparsity": [b * factor] for name, b in base.items()})
    return grid


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
        The selection methods search the sparsity weights (a grid around width / 30 per
        modality), ERM + IRM / V-REx their penalty weight; ERM and the linear model have
        nothing to select.
    """
    meta = SequentialModalityClassifier if task == "classification" else SequentialModalityRegressor

    def selector(**params):
        return InvariantMaskSelector(
            task=task, max_epochs=max_epochs, random_state=random_state, **params
        )

    order = list(modalities)
    steps = [(name, selector(), modalities[name]) for name in order]
    grid = _sparsity_grid(modalities)
    head = dict(gate=None, task=task, max_epochs=max_epochs, random_state=random_state)
    # The penalty weight of the ungated baselines is model-selected too, as DomainBed does.
    penalty_grid = {"invariance_weight": [1.0, 10.0, 100.0]}
    linear = LogisticRegression(max_iter=2000) if task == "classification" else Ridge()
    return {
        "text_first": (meta(steps), grid),
        "video_first": (meta(steps[::-1]), grid),
        "joint": (meta(steps, strategy="joint"), grid),
        "independent": (meta(steps, strategy="independent"), grid),
        "erm": (InvariantMaskSelector(invariance=None, **head), None),
        "erm_irm": (InvariantMaskSelector(invariance="irm", **head), penalty_grid),
        "erm_vrex": (InvariantMaskSelector(invariance="vrex", **head), penalty_grid),
        "linear": (make_pipeline(StandardScaler(), linear), None),
    }


def _fit(estimator, grid, X, y, domain, random_state):
    params = {"sample_domain": domain} if has_fit_parameter(estimator, "sample_domain") else {}
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
    return estimator._gates_by_modality()


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

    Returns
    -------
    results : dict
        ``records``: one dict per (protocol, method, source, target) with the scores;
        ``summary``: per protocol and method, the mean and worst target-domain scores;
        ``gates``: per method, the mean gate of every column over the leave-one-domain-out
        folds and how often it was selected; ``chosen``: the selected sparsity weights;
        ``seconds``.
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
    records, gates, chosen = [], {}, []
    for step, (protocol, sources, targets) in enumerate(splits, 1):
        train = np.isin(domain, sources)
        for name in names:
            tick = time.perf_counter()
            estimator, grid = catalog[name]
            fitted, params = _fit(estimator, grid, X[train], y[train], domain[train], random_state)
            if params:
                chosen.append(
                    {
                        "protocol": protocol,
                        "method": name,
                        "sources": [str(d) for d in sources],
                        **params,
                    }
                )
            for target in targets:
                rows = domain == target
                scores = _scores(task, y[rows], fitted.predict(X[rows]))
                records.append(
                    {
                        "protocol": protocol,
                        "method": name,
                        "sources": [str(s) for s in sources],
                        "target": str(target),
                        **{k: float(v) for k, v in scores.items()},
                    }
                )
            if protocol == "leave_one_domain_out":
                found = _gates(fitted)
                if found:
                    gates.setdefault(name, []).append(found)
            if verbose:
                print(
                    f"[{step}/{len(splits)}] {protocol} {name:<11s} sources="
                    f"{','.join(map(str, sources))}: {time.perf_counter() - tick:.1f}s",
                    flush=True,
                )
    return {
        "task": task,
        "records": records,
        "summary": _summarize(records),
        "gates": _average_gates(gates),
        "chosen": chosen,
        "seconds": time.perf_counter() - start,
    }


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
    out = {}
    for method, folds in per_method.items():
        out[method] = {
            name: {
                "gate_mean": np.mean([f[name][0] for f in folds], axis=0).tolist(),
                "selected_share": np.mean([f[name][1] for f in folds], axis=0).tolist(),
            }
            for name in folds[0]
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
    header = "| protocol | method | " + " | ".join(f"{m} mean / worst" for m in metrics) + " |"
    lines = [header, "|---|---|" + "---:|" * len(metrics)]
    for row in results["summary"]:
        cells = " | ".join(f"{row[f'{m}_mean']:.3f} / {row[f'{m}_worst']:.3f}" for m in metrics)
        lines.append(f"| {row['protocol']} | {row['method']} | {cells} |")
    return "\n".join(lines) + "\n"
