"""Aggregation of the protocol's fits: summaries, what each fit did, and the recommendation.

Everything here reads what the fits returned (scores, validation scores, and the facts of
each fitted estimator: how many columns each stage kept and why, on how many environments
it trained, what it predicted); nothing is inferred from a method's name.
"""

import joblib
import numpy as np

from ..inspection import stability_summary

__all__ = ["average_gates", "collect", "fit_facts", "primary_metric", "recommend", "summarize"]

_RECORD_KEYS = ("protocol", "method", "sources", "target", "corruption", "imputed")


def primary_metric(task):
    """The score the report leads with: accuracy, or the 2-class accuracy of MMSA scores."""
    return "accuracy" if task == "classification" else "has0_acc2"


def fit_facts(fitted, domain, predictions, X=None):
    """What one fitted estimator did, as JSON-ready facts.

    ``environments``: the training environments it saw (its ``n_environments_`` where it
    has one: domains, or domain and sub-group pairs; else the training domains).
    ``penalty``: whether an invariance penalty acted (an ungated head with a penalty and at
    least two environments; ``invariance`` names it). ``stages``: per modality of a
    meta-estimator, the columns kept, the width and the outcome (``"sparse"``: a real
    selection of some columns; ``"dense"``: the dense model won the stage's validation or the
    model selection chose the ungated candidate, and every column that passes the tie test
    is kept; ``"open"``: every gate stayed open, so every column is kept;
    ``"none"``: no column kept, the modality was not trusted). ``predictions``: a hash of
    the clean predictions on the scored rows; ``outputs``: a hash of what the model outputs
    on them (``X``) before labels are taken (class probabilities, or the predictions of a
    regressor): equal outputs are the same fitted function, equal labels need not be.
    """
    stages = stage_outcomes(fitted)
    first = fitted.modalities_[0][1] if stages else fitted
    environments = getattr(first, "n_environments_", None)
    if environments is None:
        environments = len(np.unique(domain))
    invariance = getattr(fitted, "invariance", None) if not stages else None
    return {
        "environments": int(environments),
        "invariance": invariance,
        "penalty": bool(invariance is not None and environments > 1),
        "stages": stages,
        "predictions": joblib.hash(np.asarray(predictions)),
        "outputs": joblib.hash(
            np.round(fitted.predict_proba(X), 10)
            if X is not None and hasattr(fitted, "predict_proba")
            else np.asarray(predictions)
        ),
    }


def stage_outcomes(fitted):
    """Per modality of a fitted meta-estimator: columns kept, width and outcome (see
    :func:`fit_facts`); empty for an estimator without a per-modality selection."""
    stages = {}
    if getattr(fitted, "selection_", None) is None:
        return stages
    joint = getattr(fitted, "joint_selector_", None)
    for name, stage, _ in fitted.modalities_:
        stage = joint or stage
        support = np.asarray(fitted.selection_[name].support, dtype=bool)
        dense = stage.gate is None or not getattr(stage, "selection_kept_", True)
        outcome = _outcome(support, dense)
        stages[name] = {
            "kept": int(support.sum()),
            "width": len(support),
            "outcome": outcome,
            "evidence": _evidence(getattr(stage, "selection_evidence_", None)),
        }
    return stages


def _evidence(evidence):
    """A stage's ``selection_evidence_`` as plain data: the held-out training domains, the
    sparse selection's gain on each and its statistic, whether the candidates differed
    (``compared``), and the modality's gains, statistic and verdict (``None`` when nothing
    was decided)."""
    if evidence is None:
        return None
    modality = evidence.modality_gains
    return {
        "held_out": [str(h) for h in evidence.held_out],
        "gains": [float(g) for g in evidence.gains],
        "statistic": _plain(evidence.statistic),
        "compared": bool(evidence.dense_columns > evidence.sparse_columns),
        "sparse_kept": bool(evidence.sparse_kept),
        "modality_gains": None if modality is None else [float(g) for g in modality],
        "modality_statistic": _plain(evidence.modality_statistic),
        "modality_kept": bool(evidence.modality_kept),
        "modality_risk": [str(h) for h in evidence.modality_risk],
    }


def _plain(statistic):
    """A float for JSON: finite as it is, else its name (``"nan"``, ``"inf"``)."""
    statistic = float(statistic)
    return statistic if np.isfinite(statistic) else str(statistic)


def collect(done, task):
    """The results of every finished fit, in the order of ``done``: a list of
    ``(protocol, sources, method, unit)``, ``unit`` what a fit returned. Returns the entries
    of :func:`~sklearn_seqinv.evaluation.evaluate_domain_generalization`'s results but
    ``task``, ``skipped`` and ``seconds``."""
    from ._protocols import SELECTION_PROTOCOLS

    records, gates, chosen, untrusted, validation, facts = [], {}, [], {}, [], []
    for protocol, sources, name, unit in done:
        entry = {"protocol": protocol, "method": name, "sources": [str(s) for s in sources]}
        records += unit["records"]
        validation.append({**entry, "score": unit["validation"]})
        facts.append({**entry, **unit["facts"]})
        if unit["params"]:
            chosen.append({**entry, **unit["params"]})
        if protocol in SELECTION_PROTOCOLS:
            if unit["gates"]:
                gates.setdefault(name, []).append(unit["gates"])
            for modality, kept in (unit["trust"] or {}).items():
                counts = untrusted.setdefault(name, {}).setdefault(modality, [0, 0])
                counts[0] += not kept
                counts[1] += 1
    summary = summarize(records)
    return {
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
    }


def summarize(records):
    """Per protocol and method (and corruption): mean and worst target-domain scores."""
    summary = {}
    for record in records:
        key = (record["protocol"], record["method"], record.get("corruption"))
        summary.setdefault(key, []).append(record)
    out = []
    for (protocol, method, corruption), rows in summary.items():
        metrics = [k for k in rows[0] if k not in _RECORD_KEYS]
        entry = {"protocol": protocol, "method": method}
        if corruption is not None:
            entry["corruption"] = corruption
            entry["imputed"] = bool(rows[0].get("imputed", False))
        for metric in metrics:
            values = np.array([r[metric] for r in rows])
            worst = values.max() if metric == "mae" else values.min()
            entry[f"{metric}_mean"] = float(values.mean())
            entry[f"{metric}_worst"] = float(worst)
        out.append(entry)
    return out


def average_gates(per_method):
    """Per method and modality, over the folds: what each fold's fitted estimator kept.

    ``per_method`` maps a method to its folds, each ``{modality: [gates, support, dense,
    evidence]}`` (``evidence`` as :func:`stage_outcomes` gives it).
    Returns per method and modality: ``gate_mean``, ``selected_share`` (share of folds
    whose estimator kept each column, ``get_support``), ``n_folds``, ``kept`` (columns kept
    per fold), ``outcomes`` (per fold ``"sparse"``, ``"dense"``, ``"open"`` or ``"none"``, as
    in :func:`fit_facts`), ``dense_folds``, ``open_folds`` and ``none_folds``, ``evidence``
    (per fold, the stage's cross-fitted decision or ``None``); ``jaccard``:
    the mean pairwise
    Jaccard over the folds with a real (sparse) selection only, ``None`` with fewer than two
    of them (a dense, all-open or empty fold selects nothing); ``jaccard_all_folds``
    over every fold; ``always_kept`` and ``kept_once``: columns kept in every real selection,
    and in exactly one.
    """
    out = {}
    for method, folds in per_method.items():
        out[method] = {}
        for name in folds[0]:
            supports = [np.asarray(f[name][1], dtype=bool) for f in folds]
            outcomes = [
                _outcome(s, len(f[name]) > 2 and f[name][2]) for f, s in zip(folds, supports)
            ]
            real = [s for s, o in zip(supports, outcomes) if o == "sparse"]
            counts = np.sum(real, axis=0) if real else np.zeros(len(supports[0]))
            out[method][name] = {
                "gate_mean": np.mean([f[name][0] for f in folds], axis=0).tolist(),
                "selected_share": np.mean(supports, axis=0).tolist(),
                "n_folds": len(folds),
                "kept": [int(s.sum()) for s in supports],
                "outcomes": outcomes,
                "dense_folds": outcomes.count("dense"),
                "open_folds": outcomes.count("open"),
                "none_folds": outcomes.count("none"),
                "evidence": [f[name][3] if len(f[name]) > 3 else None for f in folds],
                "jaccard": stability_summary(real).jaccard if len(real) > 1 else None,
                "jaccard_all_folds": stability_summary(supports).jaccard,
                "always_kept": int(np.sum(counts == len(real))) if real else 0,
                "kept_once": int(np.sum(counts == 1)) if len(real) > 1 else 0,
            }
    return out


def _outcome(support, dense):
    """``"none"`` (nothing kept), ``"dense"`` (the dense model won), ``"open"`` (every gate
    stayed open: every column kept, though no fallback acted) or ``"sparse"``."""
    if not support.any():
        return "none"
    if dense:
        return "dense"
    return "open" if support.all() else "sparse"


def recommend(validation, summary, metric):
    """Per protocol, the method chosen by validation on the training domains, beside the
    best row.

    ``validation`` holds one entry per fit (``protocol``, ``method``, ``sources``,
    ``score``: as :func:`~sklearn_seqinv.evaluation.evaluate_domain_generalization` records
    it: with one training domain ``"rows"``, the score on ``"n_rows"`` held-out rows of it;
    with several ``"domains"``, the chosen candidate's scores on each training domain held
    out in turn by the grid search, a domain whose fit failed ``None`` and left out).
    Where every fit of the protocol has held-out domains, a method's validation is the mean
    of those (leave-one-training-domain-out: a shift between domains shows in it); else the
    held-out rows (one training domain: nothing can show a shift).

    The rule is scikit-learn's and ESL's one-standard-error rule (Hastie, Tibshirani and
    Friedman, 2009, section 7.10): the methods whose validation is within one standard error
    of the highest cannot be told apart by it, and of those the simplest is recommended
    (``method_complexity``; the highest validation among equally
    simple ones, then the method listed first). By held-out domains the standard error is
    that of the paired differences with the best method over the same held-out domains
    (what varies from one domain to the next is shared by the methods and cancels); by
    held-out rows it is the sampling error of the best method's score on its rows
    (binomial for accuracy; ``4 R^2 (1 - R^2)^2 / n`` for R², its large-sample variance).
    ``tied`` lists the methods validation cannot tell apart (the highest first; only it when
    validation separates the methods), ``standard_errors`` each method's standard error
    against the highest.

    ``best`` is the row with the highest mean target score, for comparison only: choosing by
    it would peek at the targets.
    """
    from ._methods import method_complexity

    out = {}
    clean = [r for r in summary if "corruption" not in r]
    for protocol in dict.fromkeys(v["protocol"] for v in validation):
        fits = [v for v in validation if v["protocol"] == protocol]
        by = "domains" if all(_score(v, "domains") is not None for v in fits) else "rows"
        scores = {}
        for v in fits:
            scores.setdefault(v["method"], []).append(_score(v, by))
        means = {m: float(np.mean(s)) for m, s in scores.items()}
        order = list(means)
        top = max(means, key=lambda m: (means[m], -order.index(m)))
        tied, errors = _tie_band(fits, top, means, by, metric)
        chosen = min(tied, key=lambda m: (method_complexity(m), -means[m], order.index(m)))
        rows = {r["method"]: r for r in clean if r["protocol"] == protocol}
        key = f"{metric}_mean"
        higher = metric != "mae"
        best = (max if higher else min)(rows, key=lambda m: rows[m][key])
        out[protocol] = {
            "method": chosen,
            "validated_by": "held-out training domains" if by == "domains" else "held-out rows",
            "validation": means[chosen],
            "validation_by_method": means,
            "highest_validation": top,
            "tied": tied,
            "standard_errors": errors,
            "metric": metric,
            "mean": rows[chosen][key],
            "worst": rows[chosen][f"{metric}_worst"],
            "best_method": best,
            "best_mean": rows[best][key],
        }
    return out


def _tie_band(fits, top, means, by, metric):
    """The methods within one standard error of ``top`` (see :func:`recommend`), ``top``
    first, and each method's standard error (``None`` where it cannot be estimated: then
    only a method no worse than ``top`` on every held-out domain is in the band)."""
    if by == "domains":
        held = {}
        for v in fits:
            for i, value in enumerate(v["score"]["domains"]):
                if value is not None:
                    key = (tuple(v.get("sources", ())), i)
                    held.setdefault(v["method"], {})[key] = value
        tied, errors = [top], {top: None}
        for method in means:
            if method == top:
                continue
            pairs = [k for k in held.get(top, {}) if k in held.get(method, {})]
            gaps = np.array([held[top][k] - held[method][k] for k in pairs])
            error = float(gaps.std(ddof=1) / np.sqrt(len(gaps))) if len(gaps) > 1 else None
            errors[method] = error
            if len(gaps) and gaps.mean() <= (error or 0.0):
                tied.append(method)
        return tied, errors
    variances = []
    for v in fits:
        if v["method"] == top:
            n = v["score"].get("n_rows") if isinstance(v["score"], dict) else None
            if not n:
                return [top], dict.fromkeys(means)
            value = float(np.clip(v["score"]["rows"], 0.0, 1.0))
            # Accuracy is a proportion; a regressor's validation score is R².
            if metric == "accuracy":
                variances.append(value * (1 - value) / n)
            else:
                variances.append(4 * value * (1 - value) ** 2 / n)
    error = float(np.sqrt(np.sum(variances)) / len(variances))
    tied = [top, *(m for m in means if m != top and means[top] - means[m] <= error)]
    return tied, dict.fromkeys(means, error)


def _score(entry, by):
    """A fit's validation score: the mean over its held-out training domains, or its
    held-out rows (a bare number is the rows' score)."""
    score = entry["score"]
    if not isinstance(score, dict):
        return score if by == "rows" else None
    if by == "rows":
        return score["rows"]
    scored = [v for v in score["domains"] or () if v is not None]
    return float(np.mean(scored)) if scored else None
