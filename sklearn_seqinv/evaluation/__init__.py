"""The domain-generalization protocol: methods side by side, per target domain.

``evaluate_domain_generalization`` runs leave-one-domain-out (multi-source DG) and
single-source DG (train on one domain, test on each other) for the sequential method and its
ablations and baselines. Model selection uses the *training* domains only, never the
target: each training domain held out in turn (DomainBed's leave-one-domain-out selection),
or, with one training domain, held-out rows of it (:class:`~sklearn_seqinv.model_selection.
TrainingDomainHoldout`). The selection methods' candidates always include
"no selection" (ungated heads) and "no penalty" (plain sparse ERM), so a selected model falls
back to ERM when the method cannot help (DomainBed's lesson: with honest model selection, ERM
is hard to beat).
"""

from .._lazy import attach

# The protocol's estimators import torch; they load on first use, so that the command line's
# --help and the metrics' tables start without it.
_LAZY = {
    "CORAL_HIDDEN_UNITS": "._methods",
    "CORRUPTIONS": "._shifts",
    "LINEAR_C_GRID": "._catalog",
    "METHODS": "._methods",
    "PROTOCOLS": "._protocols",
    "Method": "._methods",
    "aggregate_runs": "._report",
    "corruption_table": "._report",
    "evaluate_dataset": "._evaluate",
    "evaluate_domain_generalization": "._evaluate",
    "evaluate_seeds": "._evaluate",
    "make_methods": "._catalog",
    "markdown_table": "._markdown",
    "register_method": "._methods",
    "results_to_markdown": "._report",
    "selection_grid": "._catalog",
    "tuned_linear": "._catalog",
    "write_results": "._report",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = attach(__name__, _LAZY)
