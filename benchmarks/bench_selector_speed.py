"""Claim: a default InvariantMaskSelector fit costs little more than the plain work it does.

The baseline is what a user would write by hand for the same job, measured on the same data:

* a plain torch loop of the gate phase: the same gate (a Gaussian stochastic gate per
  column), head (linear, or one hidden layer of ``--hidden-units``), batch size, epochs,
  domain-balanced batches and stage loss (mean per-domain cross-entropy, V-REx with its
  warm-up, expected-L0 sparsity), written with torch primitives and autograd: the gate scales
  the columns of the head's first weight matrix, rows by ``index_select``, per-domain risks as
  row means, torch's fused Adam;
* plus scikit-learn's ``LogisticRegression`` along the selector's six L2 weights, warm-started,
  with domain-balanced ``sample_weight``.

The selector's default fit adds to this a held-out choice of the pre-fit's weight, the
decision of step 4 (gated copies blind to each held-out training domain, trained in the same
loop, then heads fitted without each domain and judged on it), and the refit. The decision's
share is measured against the same fit with ``validate_selection=False``. Sides are
alternated in one process and the minimum of each is kept; the ratio is of minima. The gate
phase alone (the sum of skorch's epoch durations) is reported against the loop as well, and
the full-batch work of the fastest fit by role: the paths that choose an L2 weight on held-out
rows, the paths on held-out training domains that compare the selection with the dense model,
and the fits at the chosen weights.

    python benchmarks/bench_selector_speed.py              # 20,000 x 800 float32, 20 epochs
    python benchmarks/bench_selector_speed.py --quick      # 4,000 x 200, 5 epochs

Writes ``benchmarks/results/selector_speed.{json,md}`` (``selector_speed_quick`` with
``--quick``) with one row per head, and exits non-zero when a ratio exceeds ``--max-ratio``.
"""

import argparse
import contextlib
import json
import math
import sys
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

import sklearn_seqinv.selection._selector as selector_module
from sklearn_seqinv import InvariantMaskSelector
from sklearn_seqinv.evaluation import markdown_table
from sklearn_seqinv.selection._refit import ALPHA_PATH

RESULTS = Path(__file__).parent / "results"


def hand_written_loop(
    X,
    y,
    domain,
    *,
    epochs,
    batch_size,
    lr,
    sparsity,
    weight,
    warmup,
    seed,
    hidden_units=0,
    textbook=False,
):
    """The gate phase of InvariantMaskSelector in plain torch (see the module docstring).

    ``textbook`` writes it the obvious way instead: ``head(x * z)``, ``X[rows]`` batches,
    per-domain risks by ``index_add`` and torch's default Adam.
    """
    torch.manual_seed(seed)
    X, y, domain = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(domain)
    n, d = X.shape
    n_domains = int(domain.max()) + 1
    n_classes = int(y.max()) + 1
    mu = torch.nn.Parameter(torch.full((d,), 0.5))
    if hidden_units:
        layers = [torch.nn.Linear(d, hidden_units), torch.nn.ReLU()]
        head = torch.nn.Sequential(*layers, torch.nn.Linear(hidden_units, n_classes))
    else:
        head = torch.nn.Sequential(torch.nn.Linear(d, n_classes))
    first = head[0]
    # The head has an L2 weight decay (the selector's is the pre-fit's weight), the gates none.
    groups = [{"params": [mu]}, {"params": list(head.parameters()), "weight_decay": 1e-3}]
    optimizer = torch.optim.Adam(groups, lr=lr, **({} if textbook else {"fused": True}))
    members = [torch.nonzero(domain == e).flatten() for e in range(n_domains)]
    quota = max(32, batch_size // n_domains)
    n_batches = max(1, math.ceil(n / (n_domains * quota)))
    unit = sparsity * math.log(n) / (2 * n)
    for epoch in range(epochs):
        columns = []
        for idx in members:
            reps = math.ceil(n_batches * quota / len(idx))
            drawn = torch.cat([idx[torch.randperm(len(idx))] for _ in range(reps)])
            columns.append(drawn[: n_batches * quota].view(n_batches, quota))
        order = torch.cat(columns, dim=1)
        inv_weight = weight * min(1.0, epoch / warmup)
        for rows in order:
            z = torch.clamp(mu + 0.5 + 0.5 * torch.randn_like(mu), 0.0, 1.0)
            if textbook:
                xb, yb, db = X[rows], y[rows], domain[rows]
                losses = torch.nn.functional.cross_entropy(head(xb * z), yb, reduction="none")
                counts = torch.bincount(db, minlength=n_domains).float()
                risks = torch.zeros(n_domains).index_add(0, db, losses) / counts
                squares = torch.zeros(n_domains).index_add(0, db, (losses - risks[db]) ** 2)
                sampling = (squares / (counts - 1) / counts).detach().sum()
            else:
                xb, yb = X.index_select(0, rows), y.index_select(0, rows)
                hidden = torch.nn.functional.linear(xb, first.weight * z, first.bias)
                outputs = head[1:](hidden) if hidden_units else hidden
                losses = torch.nn.functional.cross_entropy(outputs, yb, reduction="none")
                by_domain = losses.view(n_domains, quota)
                risks = by_domain.mean(dim=1)
                with torch.no_grad():
                    sampling = by_domain.var(dim=1).sum() / quota
            # V-REx less the variance that batch sampling alone gives the risks.
            noise = (n_domains - 1) / n_domains**2 * sampling
            penalty = torch.clamp(risks.var(unbiased=False) - noise, min=0.0)
            open_prob = 0.5 * (1 + torch.erf((mu + 0.5) / (0.5 * math.sqrt(2))))
            loss = risks.mean() + inv_weight * penalty + unit * open_prob.sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return mu


def logistic_path(X, y, domain):
    """scikit-learn's LogisticRegression along the selector's L2 weights, warm-started."""
    counts = np.bincount(domain)
    weights = 1.0 / (counts[domain] * len(counts))
    model = LogisticRegression(warm_start=True, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for alpha in ALPHA_PATH:  # C = 2 / alpha: the selector's weight for two classes
            model.set_params(C=2.0 / alpha).fit(X, y, sample_weight=weights)
    return model


def loop_settings(selector, epochs, seed):
    """``hand_written_loop``'s keyword arguments that match ``selector``'s training."""
    return dict(
        epochs=epochs,
        batch_size=selector.batch_size,
        lr=selector.lr,
        sparsity=selector.sparsity,
        weight=selector.invariance_weight,
        warmup=selector.invariance_warmup,
        seed=seed,
        hidden_units=selector.hidden_units,
    )


@contextlib.contextmanager
def full_batch_timer():
    """Seconds of the fit's full-batch work by role, summed over the calls of one fit.

    ``paths``: the L2 paths that choose a weight on held-out rows (the pre-fit's, the
    refit's); ``decision``: step 4 after the gate phase, the heads fitted without each
    held-out training domain and their losses on it (the blind gates it reads train inside
    the gate phase); ``fits``: the other full-batch fits at a chosen weight.
    """
    spent = dict(paths=0.0, decision=0.0, fits=0.0)

    def timed(function, role_of):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[role_of(kwargs)] += time.perf_counter() - start

        return wrapper

    select, fit = selector_module.select_alpha, selector_module.fit_head
    judge = selector_module.InvariantMaskSelector._judge_by_held_out_domains
    inside = {"decision": False}

    def judged(*args, **kwargs):
        inside["decision"] = True
        try:
            return timed(judge, lambda kw: "decision")(*args, **kwargs)
        finally:
            inside["decision"] = False

    def fit_role(kwargs):
        return "ignored" if inside["decision"] else "fits"

    spent["ignored"] = 0.0  # the decision's own head fits, counted in its time
    with (
        mock.patch.object(selector_module, "select_alpha", timed(select, lambda kw: "paths")),
        mock.patch.object(selector_module, "fit_head", timed(fit, fit_role)),
        mock.patch.object(
            selector_module.InvariantMaskSelector, "_judge_by_held_out_domains", judged
        ),
    ):
        yield spent


def measure(X, y, domain, hidden_units, args):
    """Minima over alternated repeats of every side, for one head."""
    selector = InvariantMaskSelector(
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        hidden_units=hidden_units,
        random_state=args.seed,
    )
    settings = loop_settings(selector, args.epochs, args.seed)
    best = dict(
        textbook=np.inf, loop=np.inf, path=np.inf, gates=np.inf, fit=np.inf, undecided=np.inf
    )
    undecided = InvariantMaskSelector(**{**selector.get_params(), "validate_selection": False})
    parts = None  # the full-batch work of the fastest fit

    def timed(key, fn):
        start = time.perf_counter()
        value = fn()
        best[key] = min(best[key], time.perf_counter() - start)
        return value

    for _ in range(args.repeats):
        timed("textbook", lambda: hand_written_loop(X, y, domain, **settings, textbook=True))
        timed("loop", lambda: hand_written_loop(X, y, domain, **settings))
        timed("path", lambda: logistic_path(X, y, domain))
        fastest = best["fit"]
        with full_batch_timer() as spent:
            timed("fit", lambda: selector.fit(X, y, sample_domain=domain))
        if best["fit"] < fastest:
            parts = dict(spent)
        timed("undecided", lambda: undecided.fit(X, y, sample_domain=domain))
        best["gates"] = min(best["gates"], float(sum(selector.history_[:, "dur"])))
    baseline = best["loop"] + best["path"]
    return {
        "head": f"hidden_units={hidden_units}" if hidden_units else "linear",
        "textbook_loop_seconds": round(best["textbook"], 3),
        "loop_seconds": round(best["loop"], 3),
        "logistic_path_seconds": round(best["path"], 3),
        "gate_phase_seconds": round(best["gates"], 3),
        "fit_seconds": round(best["fit"], 3),
        "weight_paths_seconds": round(parts["paths"], 3),
        "decision_seconds": round(parts["decision"], 3),
        "fit_without_decision_seconds": round(best["undecided"], 3),
        "decision_share": round(1 - best["undecided"] / best["fit"], 3),
        "full_batch_fits_seconds": round(parts["fits"], 3),
        "gate_phase_ratio": round(best["gates"] / best["loop"], 3),
        "fit_ratio": round(best["fit"] / baseline, 3),
        "kept_columns": int(selector.get_support().sum()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--n-features", type=int, default=800)
    parser.add_argument("--n-domains", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden-units", type=int, nargs="+", default=[0, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--max-ratio", type=float, default=1.3)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples, args.n_features, args.epochs, args.repeats = 4_000, 200, 5, 1

    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.n_samples, args.n_features)).astype(np.float32)
    y = (X[:, :5].sum(axis=1) > 0).astype(np.int64)
    domain = rng.integers(0, args.n_domains, args.n_samples).astype(np.int64)
    rows = [measure(X, y, domain, hidden, args) for hidden in args.hidden_units]
    result = {
        "claim": f"a default fit <= {args.max_ratio}x a plain torch loop + LogisticRegression path",
        "n_samples": args.n_samples,
        "n_features": args.n_features,
        "n_domains": args.n_domains,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "selector_speed_quick" if args.quick else "selector_speed"
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    columns = [
        ("head", "head"),
        ("textbook_loop_seconds", "textbook loop (s)"),
        ("loop_seconds", "plain loop (s)"),
        ("logistic_path_seconds", "LogisticRegression path (s)"),
        ("gate_phase_seconds", "gate phase (s)"),
        ("fit_seconds", "default fit (s)"),
        ("weight_paths_seconds", "of which weight paths (s)"),
        ("decision_seconds", "decision after the gates (s)"),
        ("fit_without_decision_seconds", "fit, validate_selection=False (s)"),
        ("decision_share", "share of the fit the decision costs"),
        ("full_batch_fits_seconds", "full-batch fits (s)"),
        ("gate_phase_ratio", "gate phase / loop"),
        ("fit_ratio", "fit / (loop + path)"),
        ("kept_columns", "kept columns"),
    ]
    table = markdown_table(
        [title for _, title in columns], [[row[key] for key, _ in columns] for row in rows]
    )
    (RESULTS / f"{stem}.md").write_text(table)
    print(table)
    missed = [row["head"] for row in rows if row["fit_ratio"] > args.max_ratio]
    if missed:
        print(f"fit ratio above {args.max_ratio} for: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
