"""Therapy room: VQE (noiseless and noisy), baselines, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from dqfl.therapy import PlanEncoding, build_problem, synthetic_patient
from dqfl.therapy.ansatz import initial_params, pennylane_probabilities
from dqfl.therapy.baselines import exact, genetic_algorithm, simulated_annealing
from dqfl.therapy.metrics import approximation_ratio, evals_to_eps, gap_curve, p_optimum
from dqfl.therapy.noise import device_noise
from dqfl.therapy.simulator import density_probabilities, statevector_probabilities
from dqfl.therapy.vqe import VQEConfig, cvar, run_vqe


def _small():
    return build_problem(synthetic_patient(2), PlanEncoding(levels=(1.0,), n_slots=1))  # 3 qubits


def test_noiseless_vqe_finds_the_optimum_of_a_small_instance():
    problem = _small()
    ex = exact(problem.qubo)
    res = run_vqe(
        ex.energies, problem.n, VQEConfig(layers=2, shots=None, noise=None, max_evals=300, seed=0)
    )
    assert res.cost == pytest.approx(ex.e_min)
    assert res.probabilities[ex.optimum_index] > 0.9
    assert approximation_ratio(res.expected_cost, ex.e_min, ex.e_max) > 0.95


def test_noisy_probabilities_match_default_mixed():
    theta = initial_params(3, 2, seed=1, init="uniform")
    noise = device_noise().scaled(10.0)  # strong noise so a mismatch would show
    ours = density_probabilities(theta, 3, 2, noise)
    ref = pennylane_probabilities(theta, 3, 2, noise)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    energies = exact(_small().qubo).energies
    assert float(ours @ energies) == pytest.approx(float(ref @ energies), abs=1e-6)


def test_noiseless_statevector_matches_default_qubit():
    theta = initial_params(4, 2, seed=3, init="uniform")
    np.testing.assert_allclose(
        statevector_probabilities(theta, 4, 2),
        pennylane_probabilities(theta, 4, 2, None),
        atol=1e-10,
    )


def test_noisy_vqe_with_shots_runs_within_budget():
    problem = _small()
    ex = exact(problem.qubo)
    res = run_vqe(ex.energies, problem.n, VQEConfig(layers=1, shots=256, max_evals=40, seed=0))
    assert res.n_evals <= 40
    assert len(res.bits) == problem.n
    assert res.cost == pytest.approx(problem.cost(res.bits))
    assert res.probabilities.sum() == pytest.approx(1.0)


def test_cvar_is_the_mean_of_the_lower_tail():
    e = np.array([0.0, 1.0, 2.0, 3.0])
    w = np.array([0.25, 0.25, 0.25, 0.25])
    assert cvar(e, w, 1.0) == pytest.approx(1.5)
    assert cvar(e, w, 0.5) == pytest.approx(0.5)
    assert cvar(e, w, 0.125) == pytest.approx(0.0)


@pytest.mark.parametrize("solver", [simulated_annealing, genetic_algorithm])
def test_baselines_return_valid_consistent_plans(solver):
    problem = build_problem(synthetic_patient(0))
    q = problem.qubo
    res = solver(q, budget=200, seed=1)
    assert res.bits.shape == (problem.n,)
    assert set(np.unique(res.bits)) <= {0, 1}
    assert res.cost == pytest.approx(q.energy(res.bits))
    assert np.all(np.diff(res.trace_evals) > 0)
    assert res.n_evals <= 200 + 10  # GA may finish its last generation
    assert res.cost >= exact(q).e_min - 1e-9


def test_metrics_on_a_known_trace():
    evals = np.array([10, 20, 30])
    costs = np.array([5.0, 2.0, 0.0])
    assert evals_to_eps(evals, costs, 0.0, 10.0, 0.01) == 30
    assert evals_to_eps(evals, costs, 0.0, 10.0, 0.25) == 20
    np.testing.assert_allclose(
        gap_curve(evals, costs, 0.0, 10.0, np.array([5, 10, 25, 40])), [1.0, 0.5, 0.2, 0.0]
    )
    assert p_optimum(np.array([0.0, 0.0, 1.0]), np.array([0.2, 0.3, 0.5]), 0.0) == 0.5
