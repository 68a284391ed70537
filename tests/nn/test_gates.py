"""Pure-torch gates: ranges and sparsity terms, without scikit-learn or skorch."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_seqinv.nn import HardConcreteGate, StochasticGate, make_gate

finite = st.floats(-10, 10, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(mu=arrays("float32", st.integers(1, 20), elements=finite), seed=st.integers(0, 1000))
def test_stochastic_gate_values_stay_in_unit_interval(mu, seed):
    gate = StochasticGate(len(mu))
    gate.mu.data = torch.from_numpy(mu)
    torch.manual_seed(seed)
    x = torch.ones(3, len(mu))
    for mode in (True, False):
        z = gate.train(mode)(x)
        assert ((z >= 0) & (z <= 1)).all()
    p = gate.open_probability()
    assert ((p >= 0) & (p <= 1)).all()


@settings(max_examples=50, deadline=None)
@given(log_alpha=arrays("float32", st.integers(1, 20), elements=finite))
def test_hard_concrete_gate_values_stay_in_unit_interval(log_alpha):
    gate = HardConcreteGate(len(log_alpha))
    gate.log_alpha.data = torch.from_numpy(log_alpha)
    for mode in (True, False):
        z = gate.train(mode)(torch.ones(4, len(log_alpha)))
        assert ((z >= 0) & (z <= 1)).all()


def test_open_probability_grows_with_the_gate_parameter():
    gate = StochasticGate(3)
    gate.mu.data = torch.tensor([-1.0, 0.0, 1.0])
    p = gate.open_probability()
    assert p[0] < p[1] < p[2]
    assert torch.isclose(p[1], torch.tensor(0.8413), atol=1e-4)  # Phi(0.5 / 0.5) = Phi(1)


def test_deterministic_gate_is_used_in_eval_mode():
    gate = StochasticGate(2).eval()
    gate.mu.data = torch.tensor([-0.8, 0.2])
    torch.testing.assert_close(gate(torch.ones(1, 2)), torch.tensor([[0.0, 0.7]]))


def test_make_gate_rejects_unknown_kind():
    import pytest

    with pytest.raises(ValueError, match="Unknown gate 'relu'"):
        make_gate("relu", 3)


@pytest.mark.parametrize("n_guidance", [0, 2])
@pytest.mark.parametrize("hidden_units", [0, 5])
@pytest.mark.parametrize("gate", ["stg", "hard_concrete", None])
def test_training_forward_without_gated_columns_gives_the_same_outputs(
    n_guidance, hidden_units, gate
):
    # The gate scaling the head's first weight columns is the same product as gating the
    # columns: same draw of the gate (same seed), same outputs.
    from sklearn_seqinv.nn import GatedHead

    module = GatedHead(4, 3, n_guidance=n_guidance, gate=gate, hidden_units=hidden_units)
    X = torch.randn(7, n_guidance + 4, dtype=torch.float64)
    module.double().train()
    torch.manual_seed(0)
    expected, gated = module(X, return_gated=True)
    torch.manual_seed(0)
    folded, none = module(X)
    torch.testing.assert_close(folded, expected)
    assert gated.shape == (7, 4) and none is None
    # The representation a feature penalty reads comes from the same draw too.
    torch.manual_seed(0)
    outputs, none, features = module(X, return_features=True)
    torch.testing.assert_close(outputs, expected)
    width = n_guidance + 4 if hidden_units == 0 else hidden_units
    assert none is None and features.shape == (7, width)


@pytest.mark.parametrize("n_guidance", [0, 2])
@pytest.mark.parametrize("hidden_units", [0, 5])
@pytest.mark.parametrize("gate", ["stg", "hard_concrete"])
def test_members_are_the_heads_they_stack(n_guidance, hidden_units, gate):
    # Every member of a GatedMembers computes what its own GatedHead computes (in evaluation
    # mode: deterministic gates), and member(m) gives that head back.
    from sklearn_seqinv.nn import GatedHead, GatedMembers

    torch.manual_seed(0)
    heads = [
        GatedHead(4, 3, n_guidance=n_guidance, gate=gate, hidden_units=hidden_units).double()
        for _ in range(3)
    ]
    for head in heads:  # different gates per member
        for param in head.gate.parameters():
            param.data.uniform_(-1.0, 1.0)
    members = GatedMembers(heads, torch.ones(3, 2)).double().eval()
    X = torch.randn(7, n_guidance + 4, dtype=torch.float64)
    outputs, none = members(X)
    assert outputs.shape == (3, 7, 3) and none is None
    for m, head in enumerate(heads):
        torch.testing.assert_close(outputs[m], head.eval()(X)[0])
        torch.testing.assert_close(members.member(m)(X)[0], head(X)[0])
    torch.testing.assert_close(members.gate_values(), heads[0].gate_values())


def test_member_losses_are_each_members_own():
    # The penalties of a member read only the domains its membership gives it: a member
    # blind to domain 1 has the V-REx and IRMv1 penalties of a fit on domains 0 and 2.
    from sklearn_seqinv.nn import irm_penalty, vrex_penalty
    from sklearn_seqinv.nn.losses import member_irm_penalty, member_risks, member_vrex_penalty

    torch.manual_seed(0)
    domain = torch.arange(3).repeat_interleave(8)
    target = torch.randint(0, 2, (24,))
    outputs = torch.randn(2, 24, 2, dtype=torch.float64)
    ce = torch.nn.CrossEntropyLoss(reduction="none")
    weights = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]], dtype=torch.float64)
    losses = ce(outputs.transpose(1, 2), target.expand(2, 24))
    risks, _, _ = member_risks(losses, domain, 3)
    vrex = member_vrex_penalty(risks, weights)
    kept = domain != 1
    single = torch.stack(
        [ce(outputs[1][kept], target[kept])[domain[kept] == d].mean() for d in (0, 2)]
    )
    torch.testing.assert_close(vrex[1], vrex_penalty(single))
    torch.testing.assert_close(vrex[0], vrex_penalty(risks[0]))

    def member_losses(out, tgt):
        return ce(out.transpose(1, 2), tgt.expand(out.shape[:2]))

    irm = member_irm_penalty(outputs, target, domain, 3, member_losses, weights)
    codes = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    blind = irm_penalty(outputs[1][kept], target[kept], codes, 2, ce)
    torch.testing.assert_close(irm[1], blind)
