"""Stage fits shared within a block of fits: what the protocol uses so that the meta-estimators
of several methods fitted on the same split fit an identical stage once."""

import contextlib
import contextvars
import copy
from numbers import Integral

import joblib
from sklearn.base import clone

__all__ = ["SHARED_STAGES", "fit_stage", "shared_stage_fits"]

#: Where a block of fits shares its stage fits: a dict from a stage's identity to its fit,
#: set by :func:`shared_stage_fits` (``None`` outside such a block: every stage is fitted).
SHARED_STAGES = contextvars.ContextVar("sklearn_seqinv_shared_stages", default=None)


def fit_stage(selector, X, y, params):
    """``clone(selector).fit(X, y, **params)``, shared through :data:`SHARED_STAGES`."""
    shared = SHARED_STAGES.get()
    seeded = isinstance(selector.get_params(deep=False).get("random_state"), Integral)
    if shared is None or not seeded:
        return clone(selector).fit(X, y, **params)
    key = joblib.hash((type(selector), selector.get_params(deep=True), X, y, params))
    if key not in shared:
        shared[key] = clone(selector).fit(X, y, **params)
    return copy.deepcopy(shared[key])


@contextlib.contextmanager
def shared_stage_fits():
    """Inside this block, a stage fitted twice on the same data is fitted once.

    Meta-estimators of several methods (text-first, video-first, independent) fitted on the
    same split repeat some stages exactly: the same seeded selector, the same columns, rows,
    targets, domains and guidance give the same fit bit for bit. The protocol fits them
    inside one such block (it sets :data:`SHARED_STAGES`); every fit gets its own copy of the
    stage.
    """
    token = SHARED_STAGES.set({})
    try:
        yield
    finally:
        SHARED_STAGES.reset(token)
