"""Learnable feature gates (pure torch).

Two gates share one small interface so the estimator never branches on the kind:

* ``forward(x)`` returns the gated input ``z * x``; ``z`` is stochastic in training mode and
  deterministic in evaluation mode.
* ``sample()`` returns that ``z`` alone (one draw per call in training mode), so a linear
  layer can take it into its weights instead of scaling every row of the input.
* ``gate_values(scores=None)`` returns the deterministic gate in ``[0, 1]`` per feature
  (of given ``scores()``-like values, to see where a gate is heading).
* ``open_probability()`` returns, per feature, the probability that the stochastic gate is
  non-zero: the differentiable expected-L0 term of the sparsity penalty.
* ``scores()`` returns an unclamped score per feature that orders the gates (ties among
  gates clamped at 1 included), for keeping the top ``max_features``.
"""

import math

import torch
from torch import nn

__all__ = ["HardConcreteGate", "StochasticGate", "make_gate"]


class StochasticGate(nn.Module):
    """Gaussian stochastic gate of Yamada et al. (ICML 2020).

    ``z = clamp(mu + 0.5 + sigma * eps, 0, 1)`` with ``eps ~ N(0, 1)`` in training mode and
    ``clamp(mu + 0.5, 0, 1)`` in evaluation mode.

    Parameters
    ----------
    n_features : int
        Number of gated features.
    sigma : float, default=0.5
        Standard deviation of the injected noise.
    init : float, default=0.5
        Initial value of ``mu``; ``0.5`` opens every gate fully at the start, so the head first
        sees all features and the sparsity term closes the useless ones.

    Examples
    --------
    >>> import torch
    >>> gate = StochasticGate(3).eval()
    >>> gate(torch.ones(2, 3))
    tensor([[1., 1., 1.],
            [1., 1., 1.]], grad_fn=<MulBackward0>)
    """

    def __init__(self, n_features, sigma=0.5, init=0.5):
        super().__init__()
        self.sigma = float(sigma)
        self.mu = nn.Parameter(torch.full((n_features,), float(init)))

    def _noisy(self):
        return self.mu + 0.5 + torch.randn_like(self.mu) * self.sigma

    def sample(self):
        """The gate ``z`` per feature: a fresh draw in training mode, else deterministic."""
        if self.training:
            return torch.clamp(self._noisy(), 0.0, 1.0)
        return torch.clamp(self.mu + 0.5, 0.0, 1.0)

    def forward(self, x):
        return x * self.sample()

    def gate_values(self, scores=None):
        """Deterministic gate per feature, in ``[0, 1]`` (of ``scores`` in place of ``mu``)."""
        mu = self.mu if scores is None else scores
        return torch.clamp(mu + 0.5, 0.0, 1.0)

    def open_probability(self):
        """``P(z_j > 0) = Phi((mu_j + 0.5) / sigma)`` per feature."""
        return 0.5 * (1.0 + torch.erf((self.mu + 0.5) / (self.sigma * math.sqrt(2.0))))

    def scores(self):
        """Unclamped ranking score per feature: ``mu``."""
        return self.mu


class HardConcreteGate(nn.Module):
    """Hard-concrete L0 gate of Louizos et al. (ICLR 2018).

    Parameters
    ----------
    n_features : int
        Number of gated features.
    temperature : float, default=2/3
        Temperature ``beta`` of the concrete distribution.
    init : float, default=0.9
        Initial deterministic gate value before stretching, so most gates start open.
    limits : tuple of float, default=(-0.1, 1.1)
        Stretch interval ``(gamma, zeta)``.

    Examples
    --------
    >>> import torch
    >>> gate = HardConcreteGate(2).eval()
    >>> bool(((gate.gate_values() >= 0) & (gate.gate_values() <= 1)).all())
    True
    """

    def __init__(self, n_features, temperature=2.0 / 3.0, init=0.9, limits=(-0.1, 1.1)):
        super().__init__()
        self.temperature = float(temperature)
        self.gamma, self.zeta = (float(v) for v in limits)
        log_alpha = math.log(init) - math.log(1.0 - init)
        self.log_alpha = nn.Parameter(torch.full((n_features,), log_alpha))

    def _stretch(self, s):
        return torch.clamp(s * (self.zeta - self.gamma) + self.gamma, 0.0, 1.0)

    def _noisy_logits(self):
        u = torch.rand_like(self.log_alpha).clamp(1e-6, 1.0 - 1e-6)
        return (torch.log(u) - torch.log1p(-u) + self.log_alpha) / self.temperature

    def sample(self):
        """The gate ``z`` per feature: a fresh draw in training mode, else deterministic."""
        if self.training:
            return self._stretch(torch.sigmoid(self._noisy_logits()))
        return self.gate_values()

    def forward(self, x):
        return x * self.sample()

    def gate_values(self, scores=None):
        """Deterministic gate per feature, in ``[0, 1]`` (of ``scores`` for ``log_alpha``)."""
        log_alpha = self.log_alpha if scores is None else scores
        return self._stretch(torch.sigmoid(log_alpha))

    def open_probability(self):
        """``P(z_j > 0)`` of the stretched concrete distribution per feature."""
        shift = self.temperature * math.log(-self.gamma / self.zeta)
        return torch.sigmoid(self.log_alpha - shift)

    def scores(self):
        """Unclamped ranking score per feature: ``log_alpha``."""
        return self.log_alpha


def make_gate(kind, n_features, noise=0.5):
    """Build the gate named ``kind`` ("stg" or "hard_concrete"), or ``None`` for no gate.

    ``noise`` is ``sigma`` of the Gaussian gate and the temperature of the hard-concrete one.

    Examples
    --------
    >>> make_gate("stg", 4).mu.shape
    torch.Size([4])
    >>> make_gate(None, 4) is None
    True
    """
    if kind is None:
        return None
    if kind == "stg":
        return StochasticGate(n_features, sigma=noise)
    if kind == "hard_concrete":
        return HardConcreteGate(n_features, temperature=noise)
    raise ValueError(f"Unknown gate {kind!r}; expected 'stg', 'hard_concrete' or None.")
