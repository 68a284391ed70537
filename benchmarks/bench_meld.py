"""Claim: offered the context of a dialogue as a stage, the sequential classifier declines it
where it does not hold, and loses no more than half a point of weighted F1 on MELD.

MELD (Poria et al., ACL 2019: TV dialogue from *Friends*, three sentiment classes) is not
shipped with the project: point ``--data`` at a folder holding its ``train_sent_emo.csv``,
``dev_sent_emo.csv`` and ``test_sent_emo.csv`` (the public repository ``declare-lab/MELD``,
folder ``data/MELD``). The utterances are embedded offline with
:class:`~sklearn_seqinv.text.SentenceEncoder` (the ``text`` extra, all-MiniLM-L6-v2); with
``--cache FILE`` the embeddings are kept in that ``.npy`` file and read back on the next run
(nothing is written anywhere else).

The protocol is MELD's official split: fit on train + dev, score weighted F1 on test. The
training domains are the two splits (``load_meld(domain="split")``), so model selection
holds out dev, then train, in turn. Every method runs as it is and as ``<method>+context``
with the mean of the other utterances of the same dialogue (``context_group``: the dialogue,
``sample_order``: ``Utterance_ID``) added as ``text_context``; for the sequential method
that is a stage it adds only where it lowers the held-out loss. Beside them, outside the
protocol, the contextual head :class:`~sklearn_seqinv.ContextGRUClassifier` (its defaults,
standardized embeddings, each dialogue read in ``Utterance_ID`` order), row ``gru``.

    python benchmarks/bench_meld.py --data path/to/MELD/data/MELD [--cache meld.npy]

Writes ``benchmarks/results/meld.{json,md}``; prints the target with PASS or MISS.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.preprocessing import StandardScaler

from sklearn_seqinv import ContextGRUClassifier
from sklearn_seqinv.datasets import load_meld
from sklearn_seqinv.evaluation import evaluate_domain_generalization, markdown_table
from sklearn_seqinv.exceptions import ClosedGatesWarning

RESULTS = Path(__file__).parent / "results"
METHODS = ("text_first", "linear_tuned")


def embeddings(data, cache, verbose=1):
    """The utterances' sentence embeddings, from ``cache`` when it holds them."""
    if cache is not None and cache.is_file():
        X = np.load(cache, allow_pickle=False)
        if X.shape[0] == len(data.raw_text):
            return X
        print(f"{cache} holds {X.shape[0]} rows, not {len(data.raw_text)}: embedding again")
    from sklearn_seqinv.text import SentenceEncoder

    X = SentenceEncoder(verbose=verbose).fit_transform(data.raw_text)
    if cache is not None:
        np.save(cache, X)
    return X


def contextual_head(data, X, seed):
    """The contextual GRU head fitted on train + dev, scored on test, as a summary row."""
    test = np.asarray(data.split) == "test"
    X = StandardScaler().fit(X[~test]).transform(X)
    head = ContextGRUClassifier(random_state=seed)
    head.fit(
        X[~test],
        data.y[~test],
        sample_group=data.context_group[~test],
        sample_order=data.sample_order[~test],
    )
    predicted = head.predict(
        X[test], sample_group=data.context_group[test], sample_order=data.sample_order[test]
    )
    return {
        "method": "gru",
        "f1_weighted_mean": f1_score(data.y[test], predicted, average="weighted"),
        "accuracy_mean": accuracy_score(data.y[test], predicted),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of the MELD CSVs")
    parser.add_argument("--cache", type=Path, help="a .npy file for the embeddings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("-v", "--verbose", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"{args.data} is not a folder of MELD CSVs")
    start = time.perf_counter()
    data = load_meld(args.data, target="sentiment", domain="split")
    X = embeddings(data, args.cache, args.verbose)
    embedded = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClosedGatesWarning)
        results = evaluate_domain_generalization(
            X,
            data.y,
            data.sample_domain,
            {"text": np.arange(X.shape[1])},
            methods=list(METHODS),
            protocols=("official_split",),
            split=data.split,
            context_group=data.context_group,
            context_order=data.sample_order,
            max_epochs=args.epochs,
            random_state=args.seed,
            verbose=args.verbose,
            n_jobs=-1,
        )
    rows = {r["method"]: r for r in results["summary"] if "corruption" not in r}
    rows["gru"] = contextual_head(data, X, args.seed)
    kept = {
        method: {m: float(np.sum(v["selected_share"])) for m, v in per.items()}
        for method, per in results["gates"].items()
    }
    untrusted = results.get("untrusted", {})
    table = markdown_table(
        ["method", "weighted F1 (test)", "accuracy (test)", "kept columns"],
        [
            [
                method,
                r["f1_weighted_mean"],
                r["accuracy_mean"],
                ", ".join(f"{m} {v:.0f}" for m, v in kept.get(method, {}).items()),
            ]
            for method, r in rows.items()
        ],
    )
    ours, offered = rows["text_first"], rows["text_first+context"]
    loss = ours["f1_weighted_mean"] - offered["f1_weighted_mean"]
    met = loss <= 0.005
    declined = "text_context" in untrusted.get("text_first+context", {})
    seconds = time.perf_counter() - start
    text = (
        "# MELD: train + dev -> test, with and without the dialogue as context\n\n"
        f"{len(data.y)} utterances, {X.shape[1]} embedding columns (all-MiniLM-L6-v2); "
        f"seed {args.seed}, {args.epochs} epochs. `+context`: the mean of the other "
        "utterances of the same dialogue added as `text_context`; kept columns of the "
        "sequential method per stage; `gru`: the contextual GRU head (`ContextGRUClassifier`, "
        "defaults) reading each dialogue in order.\n\n"
        f"{table}\n\nThe context stage was "
        f"{'declined (modality not trusted)' if declined else 'kept'} by text_first+context.\n\n"
        f"- {'PASS' if met else 'MISS'}: text_first+context loses <= 0.5 point of weighted F1 "
        f"against text_first ({offered['f1_weighted_mean']:.3f} vs "
        f"{ours['f1_weighted_mean']:.3f}, {-loss * 100:+.1f} points)\n\n"
        f"Took {seconds:.0f} s, of which {embedded:.0f} s to embed or read the embeddings "
        f"(`python benchmarks/bench_meld.py --data <MELD folder>`).\n"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "meld.md").write_text(text)
    payload = {"rows": rows, "kept": kept, "untrusted": untrusted, "seconds": seconds}
    (RESULTS / "meld.json").write_text(json.dumps(payload, indent=2, default=float) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
