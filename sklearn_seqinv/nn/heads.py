"""Prediction heads and the gated module that ties a gate to a head (pure torch)."""

import copy

import torch
from torch import nn

from .gates import make_gate

__all__ = [
    "GatedHead",
    "GatedMembers",
    "StackedLinear",
    "embed_linear",
    "expand_inputs",
    "head_features",
    "make_head",
    "restrict_inputs",
]


def make_head(n_inputs, n_outputs, hidden_units=0):
    """A linear head, or a one-hidden-layer ReLU MLP when ``hidden_units > 0``.

    Examples
    --------
    >>> make_head(4, 2)
    Linear(in_features=4, out_features=2, bias=True)
    >>> len(make_head(4, 2, hidden_units=8))
    3
    """
    if hidden_units == 0:
        return nn.Linear(n_inputs, n_outputs)
    return nn.Sequential(
        nn.Linear(n_inputs, hidden_units), nn.ReLU(), nn.Linear(hidden_units, n_outputs)
    )


def embed_linear(head, linear):
    """Set a one-hidden-layer ReLU ``head`` to compute what ``linear`` computes, in place.

    Each output ``z_k = w_k x + b_k`` of the linear head is carried by two hidden units,
    ``relu(z_k)`` and ``relu(-z_k)``, whose difference the output layer reads (a
    function-preserving start, as Net2Net widens a network). The other hidden units keep
    their random input weights and get zero output weights, so the network starts as the
    linear model and the gradient grows them from there. Needs ``2 * n_outputs`` hidden
    units; returns ``head``.

    Examples
    --------
    >>> import torch
    >>> linear, head = make_head(5, 2), make_head(5, 2, hidden_units=6)
    >>> X = torch.randn(4, 5)
    >>> torch.allclose(embed_linear(head, linear)(X), linear(X), atol=1e-6)
    True
    """
    first, last = head[0], head[-1]
    n_outputs = linear.out_features
    if first.out_features < 2 * n_outputs:
        raise ValueError(
            f"embed_linear needs at least {2 * n_outputs} hidden units for {n_outputs} "
            f"outputs; the head has {first.out_features}."
        )
    with torch.no_grad():
        pairs = torch.cat([linear.weight, -linear.weight]).to(first.weight.dtype)
        first.weight[: 2 * n_outputs] = pairs
        first.bias[: 2 * n_outputs] = torch.cat([linear.bias, -linear.bias])
        last.weight.zero_()
        eye = torch.eye(n_outputs, dtype=last.weight.dtype)
        last.weight[:, : 2 * n_outputs] = torch.cat([eye, -eye], dim=1)
        last.bias.zero_()
    return head


def head_features(head, inputs):
    """The head's outputs and the representation its last linear layer reads.

    That representation is what a feature-matching penalty (CORAL) acts on: the hidden
    layer of an MLP head, the inputs themselves of a linear head.

    Examples
    --------
    >>> import torch
    >>> outputs, features = head_features(make_head(4, 2, hidden_units=8), torch.ones(3, 4))
    >>> outputs.shape, features.shape
    (torch.Size([3, 2]), torch.Size([3, 8]))
    """
    if isinstance(head, nn.Linear):
        return head(inputs), inputs
    features = head[:-1](inputs)
    return head[-1](features), features


def _first_linear(head):
    return head if isinstance(head, nn.Linear) else head[0]


def restrict_inputs(head, columns):
    """A copy of ``head`` that reads only the input ``columns`` (its other weights dropped).

    Fitting a head on the kept columns alone costs what their number costs, not what the
    full width costs; :func:`expand_inputs` writes the result back.

    Examples
    --------
    >>> import torch
    >>> restrict_inputs(torch.nn.Linear(5, 2), torch.tensor([0, 3])).weight.shape
    torch.Size([2, 2])
    """
    narrow = copy.deepcopy(head)
    first = _first_linear(narrow)
    index = torch.as_tensor(columns, dtype=torch.long, device=first.weight.device)
    first.weight = nn.Parameter(first.weight.detach()[:, index].clone())
    first.in_features = len(index)
    return narrow


def expand_inputs(head, narrow, columns):
    """Load the restricted ``narrow`` head into ``head``: zero weight for the other inputs.

    Examples
    --------
    >>> import torch
    >>> head = torch.nn.Linear(3, 1)
    >>> expand_inputs(head, restrict_inputs(head, [1]), [1]).weight[0, 0].item()
    0.0
    """
    first = _first_linear(head).weight
    index = torch.as_tensor(columns, dtype=torch.long, device=first.device)
    with torch.no_grad():
        for wide, part in zip(head.parameters(), narrow.parameters()):
            if wide is first:
                wide.zero_()
                wide[:, index] = part.to(wide.dtype)
            else:
                wide.copy_(part)
    return head


class GatedHead(nn.Module):
    """Gate the last ``n_features`` columns of the input, then predict with a head.

    The input holds ``[guidance, x]`` side by side: the first ``n_guidance`` columns are the
    already-selected features of earlier modalities and are never gated. Packing both into one
    tensor keeps batching a single slice.

    Parameters
    ----------
    n_features : int
        Number of gated columns.
    n_outputs : int
        Number of outputs (classes, or regression targets).
    n_guidance : int, default=0
        Number of leading guidance columns.
    gate : {"stg", "hard_concrete"} or None, default="stg"
        Gate kind; ``None`` passes ``x`` through (a plain head, the ERM baseline).
    gate_noise : float, default=0.5
        Noise scale of the gate.
    hidden_units : int, default=0
        Hidden width of the head; 0 gives a linear head.

    Examples
    --------
    >>> import torch
    >>> module = GatedHead(n_features=3, n_outputs=2, n_guidance=1).eval()
    >>> logits, gated = module(torch.ones(5, 4))
    >>> logits.shape, gated.shape
    (torch.Size([5, 2]), torch.Size([5, 3]))

    Training skips forming the gated columns unless asked; the outputs are the same:

    >>> torch.allclose(module(torch.ones(5, 4), return_gated=False)[0], module(torch.ones(5, 4))[0])
    True
    """

    def __init__(
        self, n_features, n_outputs, n_guidance=0, gate="stg", gate_noise=0.5, hidden_units=0
    ):
        super().__init__()
        self.n_guidance = n_guidance
        self.gate = make_gate(gate, n_features, gate_noise)
        self.head = make_head(n_guidance + n_features, n_outputs, hidden_units)
        # Once the selection is fixed (``fix_support``), inference multiplies by the 0/1
        # support instead of the gate values, so a head refitted on the kept columns applies.
        self.register_buffer("support", torch.ones(n_features))
        self.register_buffer("support_fixed", torch.tensor(False))

    def fix_support(self, support):
        """Predict from the columns in ``support`` (0/1 per gated feature) at inference."""
        self.support.copy_(torch.as_tensor(support, dtype=self.support.dtype))
        self.support_fixed.fill_(True)
        return self

    def forward(self, X, return_gated=None, return_features=False):
        """Outputs of the head on ``X`` (guidance then gated columns), and the gated columns.

        Returns ``(outputs, gated)``, or ``(outputs, gated, features)`` with
        ``return_features`` (the representation of :func:`head_features`, for a
        feature-matching penalty; of the same gate draw). ``return_gated`` defaults to
        evaluation mode: in training the gated columns are not formed (``None`` is returned
        in their place) unless asked for, and the gate ``z`` scales the columns of the head's
        first weight matrix instead of every row of ``X``, the same product at a fraction of
        the work.
        """
        z = self._draw()
        if return_gated is None:
            return_gated = not self.training
        if not (return_gated or return_features):
            return self._scaled_head(X, z), None
        inputs, gated = self._gated_inputs(X, z)
        gated = gated if return_gated else None
        if return_features:
            outputs, features = head_features(self.head, inputs)
            return outputs, gated, features
        return self.head(inputs), gated

    def _draw(self):
        """The gate of this pass: the fixed support at inference once it is set, else a
        draw of the gate (``None`` without one)."""
        if not self.training and bool(self.support_fixed):
            return self.support
        return None if self.gate is None else self.gate.sample()

    def _gated_inputs(self, X, z):
        """The head's input ``[guidance, z * x]`` and the gated columns ``z * x``."""
        x = X[:, self.n_guidance :]
        gated = x if z is None else x * z
        inputs = torch.cat([X[:, : self.n_guidance], gated], dim=1) if self.n_guidance else gated
        return inputs, gated

    def _scaled_head(self, X, z):
        """``head([guidance, x * z])`` computed as ``X`` times the first weight scaled by ``z``."""
        if z is None:
            return self.head(X)
        if self.n_guidance:
            z = nn.functional.pad(z, (self.n_guidance, 0), value=1.0)
        first = _first_linear(self.head)
        out = nn.functional.linear(X, first.weight * z, first.bias)
        if isinstance(self.head, nn.Linear):
            return out
        for layer in list(self.head)[1:]:
            out = layer(out)
        return out

    def gate_values(self):
        """Deterministic gate per gated feature (all ones without a gate)."""
        n_features = self.head_inputs - self.n_guidance
        if self.gate is None:
            return torch.ones(n_features)
        return self.gate.gate_values()

    @property
    def head_inputs(self):
        """Width of the head's input (guidance plus gated columns)."""
        first = self.head if isinstance(self.head, nn.Linear) else self.head[0]
        return first.in_features

    @property
    def head_outputs(self):
        """Number of outputs of the head."""
        last = self.head if isinstance(self.head, nn.Linear) else self.head[-1]
        return last.out_features


class StackedLinear(nn.Module):
    """``n_members`` independent linear layers side by side (weight ``(M, out, in)``).

    A 2-D input ``(n, in)`` is read by every member, a 3-D one ``(M, n, in)`` member by
    member; the output is ``(M, n, out)``. ``weight`` may pass the members' weights
    scaled (by their gates), the bias is this layer's.

    Examples
    --------
    >>> import torch
    >>> StackedLinear(3, 4, 2)(torch.ones(5, 4)).shape
    torch.Size([3, 5, 2])
    """

    def __init__(self, n_members, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_members, out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(n_members, out_features))

    def forward(self, x, weight=None):
        weight = self.weight if weight is None else weight
        n_members, n_out, n_in = weight.shape
        if x.dim() == 2:
            # One matrix product for every member: (n, in) by (in, M * out).
            flat = nn.functional.linear(x, weight.reshape(-1, n_in), self.bias.reshape(-1))
            return flat.view(len(x), n_members, n_out).transpose(0, 1)
        return torch.baddbmm(self.bias.unsqueeze(1), x, weight.transpose(1, 2))


def _linear_layers(head):
    return [head] if isinstance(head, nn.Linear) else [head[0], head[2]]


class GatedMembers(nn.Module):
    """Several :class:`GatedHead` of one shape trained side by side on the same batches.

    Member ``m`` has its own gate vector and head (stacked along a first axis: gate
    parameters ``(M, n_features)``, head weights ``(M, out, in)``), and ``membership[m]``
    says which domain codes its loss may read: the stage loss of every member is computed
    from one forward pass, and since no parameter is shared, the gradient of their sum is
    each member's own. This is how a fit and its cross-fits by domain (member ``m`` blind to
    the domains it will be judged on) cost one training loop.

    Parameters
    ----------
    members : list of GatedHead
        The members' starting points (same widths, gate kind and hidden layer); copied.
    membership : Tensor of shape (n_members, n_domains)
        1 where a member trains on a domain code, 0 where it must not see it.

    Examples
    --------
    >>> import torch
    >>> heads = [GatedHead(n_features=3, n_outputs=2) for _ in range(2)]
    >>> members = GatedMembers(heads, torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
    >>> members(torch.ones(5, 3))[0].shape
    torch.Size([2, 5, 2])
    >>> members.member(1).gate_values().shape
    torch.Size([3])
    """

    def __init__(self, members, membership):
        super().__init__()
        first = members[0]
        if first.gate is None:
            raise ValueError("GatedMembers needs gated members (gate is None).")
        self.n_guidance = first.n_guidance
        self.gate = copy.deepcopy(first.gate)
        for name, _ in first.gate.named_parameters():
            stacked = torch.stack([getattr(m.gate, name).detach() for m in members])
            setattr(self.gate, name, nn.Parameter(stacked.clone()))
        layers = [_linear_layers(m.head) for m in members]
        stacked = []
        for depth, layer in enumerate(layers[0]):
            linear = StackedLinear(len(members), layer.in_features, layer.out_features)
            with torch.no_grad():
                linear.weight.copy_(torch.stack([m[depth].weight for m in layers]))
                linear.bias.copy_(torch.stack([m[depth].bias for m in layers]))
            stacked.append(linear)
        self.head = nn.ModuleList(stacked)
        self.register_buffer("membership", torch.as_tensor(membership, dtype=torch.float32))
        # The template of member(): a plain attribute, so its weights are not trained.
        self.__dict__["_template"] = copy.deepcopy(first)

    def forward(self, X):
        """``(outputs, None)``: every member's outputs ``(M, n, n_outputs)`` on ``X``.

        A member's gate ``z`` (a fresh draw in training mode) scales the columns of its
        first weight matrix, as :class:`GatedHead` does in training.
        """
        z = self.gate.sample()
        if self.n_guidance:
            z = nn.functional.pad(z, (self.n_guidance, 0), value=1.0)
        first = self.head[0]
        out = first(X, weight=first.weight * z.unsqueeze(1))
        for layer in self.head[1:]:
            out = layer(torch.relu(out))
        return out, None

    def gate_values(self):
        """Deterministic gate of the first member (the fit the others check)."""
        return self.gate.gate_values()[0]

    def member(self, m):
        """Member ``m`` as a :class:`GatedHead` (a copy, in evaluation mode)."""
        single = copy.deepcopy(self._template).eval()
        with torch.no_grad():
            for name, param in single.gate.named_parameters():
                param.copy_(getattr(self.gate, name)[m])
            for layer, stacked in zip(_linear_layers(single.head), self.head):
                layer.weight.copy_(stacked.weight[m])
                layer.bias.copy_(stacked.bias[m])
        return single
