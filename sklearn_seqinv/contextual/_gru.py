"""ContextGRUClassifier and ContextGRURegressor: a recurrent head over each group's ordered rows."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._docstring import fill_doc
from .._groups import check_labels, ordered_groups
from .._validation import (
    atomic_fit,
    check_class_labels,
    check_device,
    check_regression_target,
    draw_seed,
    seeded_torch,
)
from ..exceptions import SeqinvWarning
from ..net import GroupSequences, SequenceNet, pad_groups
from ..net._state import NetStateMixin
from ..nn.recurrent import MaskedMSELoss, UtteranceGRU

__all__ = ["ContextGRUClassifier", "ContextGRURegressor"]

_METADATA = {"sample_group": True, "sample_order": True}

# The twins' docstrings share these sections (as the sequential meta-estimators do).
_PARAMETERS = """    Parameters
    ----------
    hidden_units : int, default=64
        Width of the row projection and of each direction of the GRU.
    dropout : float, default=0.5
        Dropout on the inputs and on what the output layer reads.
    max_epochs : int, default=30
        Passes over the training groups.
    batch_size : int, default=16
        Groups per training step.
    lr : float, default=1e-3
        Adam's learning rate.
    weight_decay : float, default=1e-4
        Adam's L2 weight decay.
    device : str, default="cpu"
        Torch device to train on.
    verbose : int, default=0
        ``1`` prints skorch's epoch log.
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, dropout and batch order; the caller's global torch generator
        is left untouched.

"""

_ATTRIBUTES = """    grouped_ : bool
        Whether ``fit`` was given ``sample_group`` (then ``predict`` needs it too).
    n_outputs_ : int
        Outputs per row.
    net_ : skorch.NeuralNet
        The fitted net (:class:`~sklearn_seqinv.net.SequenceNet`).
    history_ : skorch.History
        Per-epoch ``train_loss``.
    %(features_in)s

"""


class _ContextGRU(NetStateMixin, BaseEstimator):
    """What the classifier and the regressor share: groups, the skorch net, predictions."""

    __metadata_request__fit = _METADATA
    __metadata_request__predict = _METADATA
    __metadata_request__score = _METADATA

    _parameter_constraints = {
        "hidden_units": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        hidden_units=64,
        dropout=0.5,
        max_epochs=30,
        batch_size=16,
        lr=1e-3,
        weight_decay=1e-4,
        device="cpu",
        verbose=0,
        random_state=None,
    ):
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    @fill_doc
    @atomic_fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, sample_group=None, sample_order=None):
        """Train the GRU on the training groups, each read in its order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One row per utterance (standardized works best).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Class labels, or targets of the regressor.
        sample_group : array-like of shape (n_samples,), default=None
            Group of each row (the video, the dialogue). ``None``: every row is its own
            group, with a warning (the head then reads no context).
        %(sample_order)s

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y = validate_data(
            self, X, y, dtype=np.float32, multi_output=self._multi_output, ensure_min_samples=2
        )
        target, n_outputs = self._encode_target(y)
        if sample_group is None:
            warnings.warn(
                f"{type(self).__name__} got no sample_group: every row is its own group, so "
                "the head reads no context. Pass the group (video, dialogue) of each row; in "
                "a Pipeline, with metadata routing on.",
                SeqinvWarning,
                stacklevel=3,
            )
        self.grouped_ = sample_group is not None
        groups = self._groups(X, sample_group, sample_order)
        device = check_device(self.device)
        net = self._make_net(X.shape[1], n_outputs, device)
        with seeded_torch(draw_seed(self.random_state), device):
            net.fit(GroupSequences(torch.from_numpy(X), groups, target), None)
        # Inference in float64: a row's prediction does not depend on the batch it is in.
        net.module_.double()
        self.net_, self.history_ = net, net.history
        self.n_outputs_ = n_outputs
        return self

    def _make_net(self, n_inputs, n_outputs, device):
        """The skorch net of this estimator's parameters, for rows of ``n_inputs`` columns."""
        return SequenceNet(
            UtteranceGRU,
            module__n_inputs=n_inputs,
            module__n_outputs=n_outputs,
            module__hidden_units=self.hidden_units,
            module__dropout=self.dropout,
            criterion=self._criterion(),
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            iterator_train__collate_fn=pad_groups,
            iterator_valid__collate_fn=pad_groups,
            train_split=None,
            device=device,
            verbose=self.verbose,
        )

    def _net_from_state(self, saved, device):
        return self._make_net(self.n_features_in_, self.n_outputs_, device)

    def _groups(self, X, sample_group, sample_order):
        if sample_group is None:
            if getattr(self, "grouped_", False):  # fit sets it False before it gets here
                raise ValueError(
                    f"{type(self).__name__} was fitted with sample_group and needs it to "
                    "predict too: the group (video, dialogue) of each row. In a Pipeline, turn "
                    "metadata routing on (sklearn.set_config(enable_metadata_routing=True)) "
                    "and pass sample_group to predict."
                )
            group = np.arange(X.shape[0])
        else:
            group = check_labels(sample_group, "sample_group", X.shape[0])
        order = None
        if sample_order is not None:
            order = check_labels(sample_order, "sample_order", X.shape[0])
        return [torch.from_numpy(rows) for rows in ordered_groups(group, order)]

    def _outputs(self, X, sample_group, sample_order):
        """Per-row outputs of the fitted GRU (each group read whole, in its order)."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, dtype=np.float32, reset=False).astype(np.float64)
        groups = self._groups(X, sample_group, sample_order)
        outputs = np.empty((X.shape[0], self.n_outputs_))
        batches = self.net_.forward_iter(
            GroupSequences(torch.from_numpy(X), groups), training=False
        )
        start = 0
        for batch in batches:
            batch = batch.transpose(1, 2).double().cpu().numpy()
            for rows, values in zip(groups[start : start + len(batch)], batch):
                outputs[rows.numpy()] = values[: len(rows)]
            start += len(batch)
        return outputs


@fill_doc
class ContextGRUClassifier(ClassifierMixin, _ContextGRU):
    __doc__ = (
        """Classify every row from its own columns and the other rows of its group, in order.

    A bidirectional GRU reads the rows of each group (the utterances of a video, the lines
    of a dialogue) in their order (:class:`~sklearn_seqinv.nn.recurrent.UtteranceGRU`), and
    each row is classified from its own projection and the GRU's states at its position: the
    contextual model of Poria et al. (ACL 2017) on whatever columns it is given, for example
    the columns a :class:`~sklearn_seqinv.SequentialModalityClassifier` kept. It is trained
    by skorch's own loop, one batch a few groups, with dropout and weight decay as its
    regularization. A new group at prediction time is read from its own rows: the head
    keeps no memory of the training groups.

    ``sample_group`` and ``sample_order`` are requested for ``fit``, ``predict``,
    ``predict_proba`` and ``score``, so a Pipeline with metadata routing on passes them
    (alias them with ``set_fit_request(sample_group="video")`` when ``sample_group`` means
    something else to an earlier step).

"""
        + _PARAMETERS
        + """    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
"""
        + _ATTRIBUTES
        + """    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_seqinv import ContextGRUClassifier
    >>> rng = np.random.default_rng(0)
    >>> video = np.repeat(np.arange(40), 5)
    >>> mood = rng.integers(0, 2, 40)[video]  # one sentiment per video
    >>> X = mood[:, None] + rng.standard_normal((200, 3))
    >>> model = ContextGRUClassifier(max_epochs=20, random_state=0)
    >>> model.fit(X, mood, sample_group=video).score(X, mood, sample_group=video) > 0.9
    True
    """
    )

    _multi_output = False

    def _criterion(self):
        return torch.nn.CrossEntropyLoss

    def _encode_target(self, y):
        y, self.classes_ = check_class_labels(y)
        target = LabelEncoder().fit(self.classes_).transform(y).astype(np.int64)
        return torch.from_numpy(target), len(self.classes_)

    def predict(self, X, *, sample_group=None, sample_order=None):
        """The most probable class of every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.
        sample_group : array-like of shape (n_samples,), default=None
            Group of each row; needed when ``fit`` was given groups.
        sample_order : array-like of shape (n_samples,), default=None
            Position of each row in its group; ``None``: the rows' order in ``X``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        outputs = self._outputs(X, sample_group, sample_order)
        return self.classes_[outputs.argmax(axis=1)]

    def predict_proba(self, X, *, sample_group=None, sample_order=None):
        """Class probabilities of every row.

        Parameters
        ----------
        X, sample_group, sample_order
            As in :meth:`predict`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        outputs = self._outputs(X, sample_group, sample_order)
        return softmax(outputs, axis=1)

    def score(self, X, y, sample_weight=None, *, sample_group=None, sample_order=None):
        """Accuracy on ``(X, y)``.

        Parameters
        ----------
        X, sample_group, sample_order
            As in :meth:`predict`.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            Mean accuracy.
        """
        predicted = self.predict(X, sample_group=sample_group, sample_order=sample_order)
        return accuracy_score(y, predicted, sample_weight=sample_weight)


@fill_doc
class ContextGRURegressor(RegressorMixin, _ContextGRU):
    __doc__ = (
        """Predict every row's target from its own columns and the other rows of its group.

    The regressor twin of :class:`ContextGRUClassifier` (the same GRU, parameters and
    metadata), trained on the mean squared error of the rows (padding masked).

"""
        + _PARAMETERS
        + """    Attributes
    ----------
"""
        + _ATTRIBUTES
        + """    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_seqinv.contextual import ContextGRURegressor
    >>> rng = np.random.default_rng(0)
    >>> video = np.repeat(np.arange(40), 5)
    >>> score = np.repeat(rng.standard_normal(40), 5)  # one sentiment score per video
    >>> X = score[:, None] + rng.standard_normal((200, 3))
    >>> model = ContextGRURegressor(max_epochs=30, random_state=0).fit(X, score, sample_group=video)
    >>> model.score(X, score, sample_group=video) > 0.5
    True
    """
    )

    _multi_output = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _criterion(self):
        return MaskedMSELoss

    def _encode_target(self, y):
        y = check_regression_target(y, "ContextGRURegressor").astype(np.float32)
        self._y_ndim = y.ndim
        y2d = y.reshape(len(y), -1)
        if not np.isfinite(y2d).all():
            raise ValueError("y contains NaN or infinity (or values beyond the float32 range).")
        return torch.from_numpy(y2d.copy()), y2d.shape[1]

    def predict(self, X, *, sample_group=None, sample_order=None):
        """The predicted target of every row.

        Parameters
        ----------
        X, sample_group, sample_order
            As in :meth:`ContextGRUClassifier.predict`: the rows, and the group and position
            of each (the group is needed when ``fit`` was given groups).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted values.
        """
        outputs = self._outputs(X, sample_group, sample_order)
        return outputs.ravel() if self._y_ndim == 1 else outputs

    def score(self, X, y, sample_weight=None, *, sample_group=None, sample_order=None):
        """R² on ``(X, y)``.

        Parameters
        ----------
        X, sample_group, sample_order
            As in :meth:`predict`.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True values.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            Coefficient of determination.
        """
        predicted = self.predict(X, sample_group=sample_group, sample_order=sample_order)
        return r2_score(y, predicted, sample_weight=sample_weight)
