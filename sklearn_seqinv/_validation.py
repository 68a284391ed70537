"""Input checks and seeding shared by the estimators."""

import contextlib
import functools
import numbers
import warnings

import numpy as np
import torch
from sklearn.utils import check_array, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from .exceptions import SingleClassDomainWarning, TrainingInterrupted

_MAX_SEED = 2**31 - 1


def warn_single_class_domains(y, sample_domain, who):
    """Warn (:class:`~sklearn_seqinv.exceptions.SingleClassDomainWarning`), naming each
    training domain whose rows hold one class only, when there are several domains."""
    if sample_domain is None:
        return
    domain = np.asarray(sample_domain)
    labels = np.unique(domain)
    if len(labels) < 2:
        return
    single = [label for label in labels if len(np.unique(y[domain == label])) < 2]
    if single:
        shown = ", ".join(repr(str(d)) for d in single[:5])
        more = f" and {len(single) - 5} more" if len(single) > 5 else ""
        warnings.warn(
            f"{who}: training domain{'s' if len(single) > 1 else ''} {shown}{more} of "
            f"{len(labels)} hold{'' if len(single) > 1 else 's'} a single class; its risk and "
            "ties cannot be compared with the other domains', so the invariance penalty and "
            "the tie test learn little from it.",
            SingleClassDomainWarning,
            stacklevel=3,
        )


def check_sample_domain(sample_domain, n_samples, name="sample_domain"):
    """Return integer domain codes ``0..n_domains-1`` and the domain labels.

    ``None`` means a single unnamed domain. Labels may be ints or strings. Codes follow the
    order in which labels first appear in the rows, so renaming the domains changes nothing
    in training (the same codes, the same batches, the same gates). ``name`` is the argument
    named in error messages (``sample_group`` is checked the same way).
    """
    if sample_domain is None:
        return np.zeros(n_samples, dtype=np.int64), np.array([0])
    domain = np.asarray(sample_domain)
    if domain.ndim != 1:
        domain = np.ravel(domain) if domain.ndim == 2 and 1 in domain.shape else domain
    if domain.ndim != 1:
        raise ValueError(
            f"{name} must be 1-dimensional with one label per sample; got shape "
            f"{np.shape(sample_domain)}."
        )
    if domain.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {domain.shape[0]} labels but X has {n_samples} samples; "
            "pass one label per row of X."
        )
    if domain.dtype.kind == "f" and not np.isfinite(domain).all():
        raise ValueError(f"{name} contains NaN or infinity; every row needs a domain label.")
    if domain.dtype.kind == "O" and any(label is None for label in domain):
        raise ValueError(f"{name} contains None; every row needs a domain label.")
    try:
        return _first_seen_codes(domain)
    except TypeError as exc:
        raise TypeError(f"{name} labels must be all numbers or all strings, not a mix.") from exc


def _first_seen_codes(values):
    """Codes ``0..k-1`` in order of first appearance, and the labels in that order."""
    labels, first, codes = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[codes].astype(np.int64), labels[order]


def check_class_labels(y):
    """``y`` as a 1-D array of class labels and its classes; at least two classes."""
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(
            f"Classification needs samples of at least 2 classes; got 1 class ({classes[0]!r})."
        )
    return y, classes


def check_regression_target(y, name):
    """``y`` as float scores for the regressor ``estimator``; labels given as strings are
    refused by name (``"0"`` / ``"1"`` too: numbers stored as text are a data error, not a
    score)."""
    y = np.asarray(y)
    values = y.ravel()
    numeric = y.dtype.kind in "biuf" or (
        y.dtype.kind == "O"
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
    )
    if not numeric:
        example = next((v for v in values if not isinstance(v, numbers.Real)), values[:1])
        raise ValueError(
            f"{name} is a regressor: y must hold numeric scores, got "
            f"{y.dtype} values such as {example!r}. Convert the scores to numbers "
            "(y.astype(float)), or use the classifier for class labels."
        )
    return y.astype(np.float64)


#: Fewest rows of an environment built from a sub-group. Each environment's tie test
#: regresses a column on the label and the guidance's scores (with an intercept: up to 5
#: coefficients for three classes) and estimates a residual variance, and its risk enters the
#: invariance penalty; below 10 rows neither estimate has the residual degrees of freedom to
#: mean anything, and a single row gives none at all.
MIN_GROUP_ROWS = 10


def check_environments(sample_domain, sample_group, n_samples, *, min_rows=MIN_GROUP_ROWS):
    """Integer codes of the environments the invariance penalty compares, the domains, and
    how many sub-groups were pooled.

    Without ``sample_group`` the environments are the domains. With it, they are the
    (domain, group) pairs: sub-groups inside the domains (a video, a speaker, a product),
    which is what gives a single source domain something to compare. A sub-group of fewer
    than ``min_rows`` rows cannot carry a risk or a tie of its own: the small sub-groups of a
    domain are pooled into one environment, which joins the domain's largest sub-group when
    it is itself still too small (a domain of small sub-groups only is one environment).

    Examples
    --------
    >>> env, domains, pooled = check_environments(
    ...     [0] * 30, ["a"] * 12 + ["b"] * 12 + ["c"] * 3 + ["d"] * 3, 30)
    >>> sorted(set(env.tolist())), pooled
    ([0, 1], 2)
    """
    domain, domains = check_sample_domain(sample_domain, n_samples)
    if sample_group is None:
        return domain, domains, 0
    group, _ = check_sample_domain(sample_group, n_samples, name="sample_group")
    pair, _ = _first_seen_codes(domain * (int(group.max()) + 1) + group)
    sizes = np.bincount(pair)
    small = sizes < min_rows
    pooled = int(small.sum())
    if pooled:
        # Every pair of a domain maps to one representative code: small pairs to the first
        # small pair of their domain, or to the domain's largest pair when they are too few.
        target = np.arange(len(sizes))
        pair_domain = np.zeros(len(sizes), dtype=np.int64)
        pair_domain[pair] = domain
        for code in np.unique(domain):
            members = np.flatnonzero(pair_domain == code)
            tiny = members[small[members]]
            if not len(tiny):
                continue
            target[tiny] = tiny[0]
            if sizes[tiny].sum() < min_rows:
                target[tiny] = members[np.argmax(sizes[members])]
        pair = target[pair]
    environment, _ = _first_seen_codes(pair)
    return environment, domains, pooled


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32_range(X, name="X"):
    """Training runs in float32: refuse values that would overflow to infinity there."""
    if X.size and max(-X.min(), X.max()) > _FLOAT32_MAX:
        raise ValueError(
            f"{name} has values beyond the float32 range (|value| > {_FLOAT32_MAX:.3g}); "
            "rescale it (e.g. StandardScaler) before fitting."
        )
    return X


def check_guidance(guidance, n_samples, *, n_expected=None):
    """Validate guidance features: a finite float array of shape (n_samples, k).

    ``n_expected`` is the number of guidance columns seen in ``fit``; at predict time a
    missing or differently shaped guidance is an error that says what ``fit`` saw.
    """
    if guidance is None:
        if n_expected:
            raise ValueError(
                f"This estimator was fitted with guidance of {n_expected} columns (the selected "
                "features of the earlier modalities); pass the same columns as guidance=... "
                "when predicting."
            )
        return np.empty((n_samples, 0), dtype=np.float32)
    guidance = check_array(
        guidance, dtype=[np.float32, np.float64], input_name="guidance", ensure_min_features=0
    )
    check_float32_range(guidance, "guidance")
    if guidance.shape[0] != n_samples:
        raise ValueError(
            f"guidance has {guidance.shape[0]} rows but X has {n_samples}; guidance must hold "
            "the earlier modalities' selected features for the same samples."
        )
    if n_expected is not None and guidance.shape[1] != n_expected:
        raise ValueError(
            f"guidance has {guidance.shape[1]} columns but the estimator was fitted with "
            f"{n_expected}."
        )
    return guidance


def draw_seed(random_state):
    """A torch seed from ``random_state`` without drawing from numpy's global generator."""
    if random_state is None:
        return int(np.random.default_rng().integers(_MAX_SEED))
    if isinstance(random_state, numbers.Integral):
        return int(random_state) % _MAX_SEED
    return int(check_random_state(random_state).randint(_MAX_SEED))


def check_device(device):
    """Return ``device`` as a ``torch.device``, with a clear error when it is unavailable."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but CUDA is not available here.")
    return dev


@contextlib.contextmanager
def seeded_torch(seed, device):
    """Seed torch inside ``fork_rng`` so the caller's global RNG state is left untouched."""
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def atomic_fit(fit):
    """Make ``fit`` all-or-nothing: on any failure, the estimator gets its old state back.

    An interrupted or failed fit (KeyboardInterrupt included) leaves the estimator exactly as
    it was before the call: unfitted, or fitted as before, never half-fitted.
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        snapshot = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException as exc:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            if isinstance(exc, TrainingInterrupted):
                raise KeyboardInterrupt("fit was interrupted; the estimator is unchanged") from None
            raise

    return wrapper
