"""The selector's fit as its named steps, each run alone on generated data.

``fit`` validates (``_check_fit_data``), then runs the pre-fit, the gate phase, the tie
test, the decision and the refit, each returning a typed result, and sets the fitted
attributes from them at the end.
"""

import copy

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score
from sklearn.utils import Bunch

from sklearn_seqinv import InvariantMaskSelector, TieInvarianceFilter
from sklearn_seqinv.selection._refit import ALPHA_PATH, select_alpha
from sklearn_seqinv.selection._selector import _CrossFit, _GatePhase


@pytest.fixture(scope="module")
def data(make_text_domains):
    return make_text_domains(seed=0, n_samples=600)


def _problem(selector, data, guidance=None):
    return selector._check_fit_data(data.X, data.y, data.sample_domain, None, guidance)


def _steps(selector, data, guidance=None):
    """The pre-fit and the gate phase, as ``fit`` runs them."""
    problem = _problem(selector, data, guidance)
    prefit = selector._prefit(problem)
    return problem, prefit, selector._gate_phase(problem, prefit)


def test_the_checked_data_describe_the_fit(data):
    selector = InvariantMaskSelector(random_state=0)
    problem = _problem(selector, data)
    assert selector.n_environments_ == 3 and selector.task_ == "classification"
    assert problem.dataset.X.shape == data.X.shape and problem.guide.shape == (600, 0)
    assert problem.given and problem.n_outputs == 2
    assert np.array_equal(problem.domain, np.unique(data.sample_domain, return_inverse=True)[1])
    assert _problem(selector, data).seed == problem.seed  # random_state=0: the same seed


def test_the_prefit_tunes_a_linear_head_and_prefits_each_fold_blind_to_its_domain(data):
    selector = InvariantMaskSelector(random_state=0)
    problem = _problem(selector, data)
    prefit = selector._prefit(problem)
    assert prefit.alpha in ALPHA_PATH and prefit.reusable and prefit.held_out > 0
    with torch.no_grad():
        predicted = prefit.head(problem.dataset.X).argmax(1).numpy()
    assert accuracy_score(data.y, predicted) > 0.7
    assert [np.unique(problem.domain[test]).tolist() for _, test in prefit.folds] == [
        [0],
        [1],
        [2],
    ]
    for (train, test), head in zip(prefit.folds, prefit.fold_heads):
        assert np.intersect1d(train, test).size == 0
        assert not torch.equal(head.weight, prefit.head.weight)
    # Nothing to decide: no fold is pre-fitted.
    undecided = InvariantMaskSelector(validate_selection=False, random_state=0)
    assert undecided._prefit(_problem(undecided, data)).folds == []


def test_an_ungated_refitted_head_needs_no_prefit_and_no_gate_phase(data):
    selector = InvariantMaskSelector(gate=None, random_state=0)
    problem = _problem(selector, data)
    assert selector._prefit(problem) is None
    phase = selector._gate_phase(problem, None)
    assert len(phase.net.history) == 0 and (phase.gates == 1).all()


def test_the_gate_phase_trains_the_fits_gates_beside_one_blind_copy_per_fold(data):
    selector = InvariantMaskSelector(max_epochs=30, random_state=0)
    _, prefit, phase = _steps(selector, data)
    assert phase.gates.shape == (30,) and ((phase.gates >= 0) & (phase.gates <= 1)).all()
    assert len(phase.net.history) > 0
    assert len(phase.cross_fits) == 3
    for fold, (train, test) in zip(phase.cross_fits, prefit.folds):
        assert fold.train is train and fold.test is test
        assert fold.gates.shape == (30,) and fold.prefit is not None
    # The invariant columns are open in the fit's own gates.
    assert (phase.gates[data.invariant["text"]] > selector.threshold).all()


def test_the_tie_test_runs_for_a_guided_stage_only_and_drops_a_column_that_only_shifts(data):
    rng = np.random.default_rng(0)
    code = np.unique(data.sample_domain, return_inverse=True)[1]
    invariant = data.y + rng.standard_normal(600)
    offset_only = 3.0 * code + rng.standard_normal(600)
    video = np.c_[invariant, offset_only]
    guided = InvariantMaskSelector(random_state=0)
    problem = guided._check_fit_data(video, data.y, data.sample_domain, None, data.X[:, :4])
    ties = guided._tie_test(problem)
    assert isinstance(ties, TieInvarianceFilter)
    assert ties.get_support().tolist() == [True, False]
    assert guided._passing(np.array([True, True]), ties).tolist() == [True, False]
    unguided = InvariantMaskSelector(random_state=0)
    assert unguided._tie_test(_problem(unguided, data)) is None


def test_the_decision_keeps_the_gates_when_nothing_is_to_decide(data):
    selector = InvariantMaskSelector(validate_selection=False, max_epochs=10, random_state=0)
    problem, prefit, phase = _steps(selector, data)
    decision = selector._decide(problem, phase, None, prefit)
    assert decision.kept and decision.evidence is None
    assert decision.support.tolist() == (phase.gates > selector.threshold).tolist()


def test_the_decision_drops_a_selection_that_loses_on_the_domains_held_out_from_it(data):
    selector = InvariantMaskSelector(max_epochs=10, random_state=0)
    problem, prefit, phase = _steps(selector, data)
    # Blind gates that kept only noise columns, and fit's own gates that keep 3 columns:
    # judged on the held-out domains, the sparse candidate does not beat every column (it
    # wins only where the spurious columns flip, domain 2).
    noise = np.setdiff1d(np.arange(30), np.r_[data.invariant["text"], data.spurious["text"]])
    gates = np.zeros(30)
    gates[noise[:3]] = 1.0
    blind = [fold._replace(gates=gates, scores=gates) for fold in phase.cross_fits]
    crafted = _GatePhase(phase.net, gates, blind)
    decision = selector._decide(problem, crafted, None, prefit)
    evidence = decision.evidence
    assert not decision.kept and decision.support.all()
    assert evidence.held_out == ["0", "1", "2"] and (evidence.gains[:2] < 0).all()
    assert evidence.sparse_columns == 3 and evidence.dense_columns == 30
    assert evidence.statistic < evidence.threshold and not evidence.sparse_kept


def test_the_decision_with_one_environment_keeps_every_passing_column(data):
    one = InvariantMaskSelector(max_epochs=10, random_state=0)
    problem = one._check_fit_data(data.X, data.y, np.zeros(600), None, None)
    prefit = one._prefit(problem)
    phase = one._gate_phase(problem, prefit)
    decision = one._decide(problem, phase, None, prefit)
    assert decision.support.all() and not decision.kept and decision.evidence is None


def test_the_refit_fits_the_kept_columns_or_leaves_a_final_hidden_head_alone(data):
    linear = InvariantMaskSelector(max_epochs=10, random_state=0)
    problem, prefit, phase = _steps(linear, data)
    support = np.zeros(30, dtype=bool)
    support[data.invariant["text"]] = True
    alpha = linear._refit(problem, phase.net, support, prefit)
    assert alpha in ALPHA_PATH
    weight = phase.net.module_.head.weight.detach()
    assert (weight[:, ~support] == 0).all() and (weight[:, support] != 0).all()
    # Every column kept, the weight chosen on rows (the default): the pre-fit is the refit.
    every = np.ones(30, dtype=bool)
    assert not linear._alpha_by_domain()
    assert linear._refit(problem, phase.net, every, prefit) == prefit.alpha
    assert torch.equal(phase.net.module_.head.weight, prefit.head.weight)
    # alpha="domains": the weight is chosen on whole held-out domains, so the pre-fit (its
    # weight chosen on rows) is not the refit even with every column kept.
    domains = InvariantMaskSelector(alpha="domains", max_epochs=10, random_state=0)
    problem, prefit, phase = _steps(domains, data)
    dataset = problem.dataset
    args = (dataset.X, dataset.y, dataset.domain, 3, domains._per_sample_loss())
    by_domain = select_alpha(copy.deepcopy(prefit.head), *args, by_domain=True)[0]
    assert domains._alpha_by_domain()
    assert domains._refit(problem, phase.net, every, prefit) == by_domain
    # One domain: nothing to hold out, rows again.
    pooled = InvariantMaskSelector(alpha="domains", invariance=None, max_epochs=10)
    problem, prefit, phase = _steps(pooled, Bunch(**{**data, "sample_domain": None}))
    assert not pooled._alpha_by_domain()
    assert pooled._refit(problem, phase.net, every, prefit) == prefit.alpha

    hidden = InvariantMaskSelector(hidden_units=8, max_epochs=10, random_state=0)
    problem, prefit, phase = _steps(hidden, data)
    before = {k: v.clone() for k, v in phase.net.module_.head.state_dict().items()}
    assert hidden._refit(problem, phase.net, support, prefit) is None
    after = phase.net.module_.head.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # What transform drops, predict does not read: its gates are closed.
    used = phase.net.module_.support.detach().numpy()
    assert (used[~support] == 0).all()


@pytest.mark.parametrize(
    ("alpha", "task", "n_domains", "expected"),
    [
        ("auto", "classification", 3, False),
        ("rows", "classification", 3, False),
        ("domains", "classification", 3, True),
        ("domains", "regression", 3, True),
        ("domains", "classification", 1, False),
        (0.1, "classification", 3, False),
    ],
)
def test_the_refit_weight_is_chosen_on_held_out_domains_where_alpha_says_so(
    alpha, task, n_domains, expected
):
    selector = InvariantMaskSelector(alpha=alpha)
    selector.task_, selector.n_environments_ = task, n_domains
    assert selector._alpha_by_domain() is expected


def test_fit_sets_the_attributes_from_the_steps_and_clears_those_a_refit_leaves_out(data):
    selector = InvariantMaskSelector(max_epochs=10, random_state=0)
    selector.fit(data.X, data.y, sample_domain=data.sample_domain)
    assert hasattr(selector, "alpha_") and selector.selection_evidence_ is not None
    selector.set_params(hidden_units=8).fit(data.X, data.y, sample_domain=data.sample_domain)
    assert not hasattr(selector, "alpha_") and selector.selection_evidence_ is None
    assert isinstance(_CrossFit._fields, tuple)


def test_the_modality_rule_reads_the_mean_gain_and_names_the_domains_it_hurts():
    from sklearn_seqinv.selection._decision import decision_evidence

    # Columns: sparse, dense, guidance alone. The sparse candidate loses on average (dense
    # kept); against it, the modality helps on a and c and hurts on b.
    def evidence_of(losses):
        return decision_evidence(
            losses,
            ["a", "b", "c"],
            compare=True,
            guided=True,
            sparse_kept_per_fold=[2, 2, 3],
            stable_columns=2,
            dense_columns=6,
            sparse_columns=2,
        )

    losses = np.array([[0.60, 0.50, 0.70], [0.40, 0.42, 0.38], [0.65, 0.55, 0.80]])
    evidence = evidence_of(losses)
    assert not evidence.sparse_kept
    np.testing.assert_allclose(evidence.modality_gains, [0.20, -0.04, 0.25])
    assert evidence.modality_kept and evidence.modality_risk == ["b"]
    hurting = losses.copy()
    hurting[:, 2] = [0.45, 0.38, 0.50]
    evidence = evidence_of(hurting)
    assert not evidence.modality_kept and evidence.modality_risk == ["a", "b", "c"]
