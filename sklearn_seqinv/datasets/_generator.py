"""A seeded generator of multi-domain, multi-modality data with known invariant features."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._base import frame

__all__ = ["make_multimodal_domains", "simulate_video"]

_SHAPES = {
    "mosi": {"text": 768, "video": 20, "audio": 5},
    "mosei": {"text": 768, "video": 35, "audio": 74},
}
_DEFAULT_ROLES = {
    # modality: (invariant, redundant with the first modality, spurious)
    "text": (4, 0, 2),
    "video": (2, 3, 4),
    "audio": (2, 1, 1),
}
_FALLBACK_ROLES = (2, 2, 2)
# How much each modality's own invariant factor drives the sentiment: text most, then audio,
# then video, so video adds a little that text lacks (the method's premise).
_FACTOR_WEIGHTS = {"text": 1.0, "audio": 0.5, "video": 0.5}


def _roles(modalities, default_index):
    return {name: _DEFAULT_ROLES.get(name, _FALLBACK_ROLES)[default_index] for name in modalities}


@validate_params(
    {
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "n_domains": [Interval(Integral, 1, None, closed="left")],
        "n_groups": [Interval(Integral, 1, None, closed="left")],
        "modalities": [dict, StrOptions(set(_SHAPES)), None],
        "n_invariant": [dict, None],
        "n_redundant": [dict, None],
        "n_spurious": [dict, None],
        "task": [StrOptions({"classification", "regression"})],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "spurious_strength": [Interval(Real, 0, None, closed="left")],
        "flip_domains": ["array-like", None],
        "tie_strengths": [StrOptions({"uniform", "spread"})],
        "style_shift": [Interval(Real, 0, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="neither")],
        "as_frame": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_multimodal_domains(
    n_samples=600,
    *,
    n_domains=3,
    n_groups=1,
    modalities=None,
    n_invariant=None,
    n_redundant=None,
    n_spurious=None,
    task="classification",
    n_classes=2,
    spurious_strength=1.0,
    flip_domains=None,
    tie_strengths="uniform",
    style_shift=0.5,
    noise=1.0,
    as_frame=False,
    random_state=None,
):
    """Generate multi-domain, multi-modality data whose invariant features are known.

    A latent sentiment ``t`` is a weighted sum of one factor ``h_m`` per modality (text
    weighs most), plus a little noise; ``y`` is ``t`` cut into classes or scaled to
    ``[-3, 3]``. Every column of a modality plays one role:

    * invariant: ``a_j * h_m + noise`` in every domain (its own modality's factor);
    * redundant: ``a_j * h_first + noise``, a copy of the first modality's information;
    * spurious: ``b_e * s(y) + noise`` with a per-domain strength ``b_e`` whose sign flips in
      ``flip_domains``: predictive inside a domain, misleading across domains;
    * noise: pure noise.

    Each domain then adds its own offset to every column (style: lighting, camera, show).
    Columns are shuffled inside each modality; the roles are returned.

    Parameters
    ----------
    n_samples : int, default=600
        Number of rows, split evenly across domains.
    n_domains : int, default=3
        Number of domains.
    n_groups : int, default=1
        Sub-groups inside every domain (videos, speakers, products), returned as
        ``sample_group``. With more than one, each sub-group multiplies its domain's spurious
        tie by its own factor, spaced evenly from 1.5 down to 0.5 (in a random order): the
        tie keeps its sign inside a domain but changes strength across its sub-groups, which
        is what a single source domain can show the tie test.
    modalities : dict of str to int, {"mosi", "mosei"} or None, default=None
        Columns per modality, in order. ``None`` gives ``{"text": 24, "video": 16}``;
        ``"mosi"`` / ``"mosei"`` give the MMSA widths (text 768, video 20 / 35, audio 5 / 74).
    n_invariant, n_redundant, n_spurious : dict of str to int or None, default=None
        Columns of each role per modality. Defaults: text 4 invariant and 2 spurious; video 2
        invariant, 3 redundant with text and 4 spurious; audio 2 invariant, 1 redundant, 1
        spurious (MOSI audio has 5 columns).
    task : {"classification", "regression"}, default="classification"
        Class labels ``0..n_classes-1`` or scores in ``[-3, 3]``.
    n_classes : int, default=2
        Number of classes (quantiles of ``t``).
    spurious_strength : float, default=1.0
        Mean absolute tie of spurious columns to the label; each domain draws its strength
        uniformly in ``[0.25, 1.75]`` times this.
    flip_domains : array-like of int or None, default=None
        Domains where the spurious tie changes sign. ``None`` flips the odd-numbered domains
        (1, 3, ...), so the tie changes sign inside the training domains of every
        leave-one-domain-out split, which is what lets an invariance penalty detect it.
    tie_strengths : {"uniform", "spread"}, default="uniform"
        ``"uniform"`` draws each domain's strength in ``[0.25, 1.75]``. ``"spread"`` spaces
        the strengths of the unflipped domains evenly from 1.0 down to 0.5 (in a random
        order) and reverses the flipped ones (strength 0.5 to 1.0): with
        ``flip_domains=[held_out]`` the tie keeps its sign and really changes strength
        across the training domains, the common real case (a laugh track that goes with
        positive clips in every show, more in some).
    style_shift : float, default=0.5
        Standard deviation of the per-domain column offsets.
    noise : float, default=1.0
        Standard deviation of the per-column noise.
    as_frame : bool, default=False
        Return ``X`` as a pandas DataFrame with columns ``<modality>_<j>``.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : Bunch
        ``X`` (n_samples, n_features), ``y``, ``sample_domain`` (ints), ``sample_group``
        (ints, unique across domains: ``domain * n_groups + sub-group``), ``modalities``
        (name -> column indices of X), ``invariant``, ``redundant``, ``spurious`` (name ->
        column indices of X), ``feature_names``, ``spurious_ties`` (n_domains,), ``DESCR``.

    Examples
    --------
    >>> from sklearn_seqinv.datasets import make_multimodal_domains
    >>> data = make_multimodal_domains(n_samples=90, random_state=0)
    >>> data.X.shape, sorted(data.modalities)
    ((90, 40), ['text', 'video'])
    >>> len(data.invariant["text"]), len(data.spurious["video"])
    (4, 4)
    """
    rng = check_random_state(random_state)
    if modalities is None:
        modalities = {"text": 24, "video": 16}
    elif isinstance(modalities, str):
        modalities = dict(_SHAPES[modalities])
    roles = {
        "invariant": {**_roles(modalities, 0), **(n_invariant or {})},
        "redundant": {**_roles(modalities, 1), **(n_redundant or {})},
        "spurious": {**_roles(modalities, 2), **(n_spurious or {})},
    }
    names = list(modalities)
    for name in names:
        used = sum(roles[role][name] for role in roles)
        if used > modalities[name]:
            raise ValueError(
                f"Modality {name!r} has {modalities[name]} columns but its roles need {used}."
            )
    if n_domains > n_samples:
        raise ValueError(f"n_domains={n_domains} is larger than n_samples={n_samples}.")

    domain = np.sort(np.arange(n_samples) % n_domains)
    local_group = np.arange(n_samples) % n_groups
    factors = {name: rng.standard_normal(n_samples) for name in names}
    weights = np.array([_FACTOR_WEIGHTS.get(name, 0.5) for name in names])
    weights[0] = 1.0
    latent = sum(w * factors[name] for w, name in zip(weights, names))
    latent = latent + 0.3 * rng.standard_normal(n_samples)
    latent = latent / latent.std()
    y, signed = _targets(latent, task, n_classes)

    flips = list(range(1, n_domains, 2)) if flip_domains is None else list(flip_domains)
    flipped = np.zeros(n_domains, dtype=bool)
    flipped[[f for f in flips if 0 <= f < n_domains]] = n_domains > 1
    if tie_strengths == "uniform":
        ties = spurious_strength * rng.uniform(0.25, 1.75, n_domains)
    else:
        ties = np.empty(n_domains)
        ties[~flipped] = rng.permutation(np.linspace(1.0, 0.5, (~flipped).sum()))
        ties[flipped] = rng.uniform(0.5, 1.0, flipped.sum())
        ties *= spurious_strength
    ties[flipped] *= -1.0
    # Per-row tie: the domain's, times its sub-group's factor (1 with a single group).
    group_factors = np.ones((n_domains, 1))
    if n_groups > 1:
        spread = np.linspace(1.5, 0.5, n_groups)
        group_factors = np.array([rng.permutation(spread) for _ in range(n_domains)])
    row_ties = ties[domain] * group_factors[domain, local_group]

    blocks, found = [], {role: {} for role in roles}
    offset = 0
    for name in names:
        width = modalities[name]
        block = noise * rng.standard_normal((n_samples, width))
        perm = rng.permutation(width)
        cursor = 0
        sources = {
            "invariant": factors[name],
            "redundant": factors[names[0]],
            "spurious": row_ties * signed,
        }
        for role, source in sources.items():
            count = roles[role][name]
            cols = np.sort(perm[cursor : cursor + count])
            cursor += count
            loadings = rng.uniform(0.6, 1.2, count)
            block[:, cols] += source[:, None] * loadings
            found[role][name] = cols + offset
        block += style_shift * rng.standard_normal((n_domains, width))[domain]
        blocks.append(block)
        offset += width

    X = np.hstack(blocks)
    feature_names = np.array(
        [f"{name}_{j}" for name in names for j in range(modalities[name])], dtype=object
    )
    groups, start = {}, 0
    for name in names:
        groups[name] = np.arange(start, start + modalities[name])
        start += modalities[name]
    if as_frame:
        X = frame(X, feature_names)
    return Bunch(
        X=X,
        y=y,
        sample_domain=domain,
        sample_group=domain * n_groups + local_group,
        modalities=groups,
        feature_names=feature_names,
        spurious_ties=ties,
        DESCR=make_multimodal_domains.__doc__.split("\n\n")[0],
        **found,
    )


def _targets(latent, task, n_classes):
    """Labels from the latent sentiment, and a centred label signal for spurious columns."""
    if task == "regression":
        y = np.clip(1.5 * latent, -3.0, 3.0)
        return y, y / y.std()
    cuts = np.quantile(latent, np.linspace(0, 1, n_classes + 1)[1:-1])
    y = np.searchsorted(cuts, latent).astype(np.int64)
    signed = (y - y.mean()) / y.std()
    return y, signed


def simulate_video(
    y, sample_domain, *, n_features=20, flip_domains=None, style_shift=0.5, random_state=None
):
    """Simulate a video modality for a dataset that has none, from the label and the domain.

    Used where real data has text only (the multi-domain reviews, MELD transcripts) and a
    benchmark needs a second modality. The columns carry the hazards the method is about:

    * 2 weakly invariant columns: ``0.5 * s(y) + noise`` in every domain;
    * 6 spurious columns: ``b_e * s(y) + noise``, with a per-domain strength drawn in
      ``[0.25, 1.75]`` whose sign flips in every other domain (in sorted domain order), or,
      with ``flip_domains``, a tie that keeps its sign across the other domains with
      strengths spread from 1.0 to 0.5 (a laugh track that goes with positive clips in every
      show, more in some) and is reversed (strength 0.5 to 1.0) in the flipped ones;
    * the rest noise; every column gets a per-domain style offset (``N(0, style_shift)``).

    ``s(y)`` is the label centred and scaled to unit variance (classes or scores).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels or scores.
    sample_domain : array-like of shape (n_samples,)
        Domain of each row.
    n_features : int, default=20
        Number of columns (at least 8).
    flip_domains : array-like of domain labels or None, default=None
        Domains where the spurious tie is reversed; ``None`` alternates the sign.
    style_shift : float, default=0.5
        Standard deviation of the per-domain offset of every column (a camera's, a show's
        style), in units of the columns' noise.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    video : ndarray of shape (n_samples, n_features)
        Columns 0-1 weakly invariant, 2-7 spurious, the rest noise.

    Examples
    --------
    >>> import numpy as np
    >>> simulate_video(np.array([0, 1, 0, 1]), np.array(["a", "a", "b", "b"]),
    ...                random_state=0).shape
    (4, 20)
    """
    if n_features < 8:
        raise ValueError(f"n_features must be at least 8; got {n_features}.")
    rng = check_random_state(random_state)
    y = np.asarray(y, dtype=np.float64)
    std = y.std()
    signed = (y - y.mean()) / (std if std > 0 else 1.0)
    labels, domain = np.unique(np.asarray(sample_domain), return_inverse=True)
    if flip_domains is None:
        flipped = np.arange(len(labels)) % 2 == 1
        ties = rng.uniform(0.25, 1.75, len(labels)) * np.where(flipped, -1, 1)
    else:
        flip = np.asarray(flip_domains)
        unknown = np.setdiff1d(flip, labels)
        if unknown.size:
            raise ValueError(
                f"flip_domains names domains that are not in sample_domain: {unknown.tolist()}."
            )
        flipped = np.isin(labels, flip)
        # Same sign, strengths spread evenly from 1.0 down to 0.5 over the other domains (in
        # a random order), so the tie really changes strength; reversed where flipped.
        ties = np.empty(len(labels))
        ties[~flipped] = rng.permutation(np.linspace(1.0, 0.5, (~flipped).sum()))
        ties[flipped] = -rng.uniform(0.5, 1.0, flipped.sum())
    video = rng.standard_normal((len(y), n_features))
    video[:, :2] += 0.5 * signed[:, None]
    video[:, 2:8] += (ties[domain] * signed)[:, None] * rng.uniform(0.6, 1.2, 6)
    video += style_shift * rng.standard_normal((len(labels), n_features))[domain]
    return video
