"""Therapy room: patients, encoding, QUBO, Ising and the PennyLane Hamiltonian."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dqfl.errors import DqflError
from dqfl.therapy import Patient, PlanEncoding, build_problem, synthetic_patient
from dqfl.therapy.encoding import index_to_bits
from dqfl.therapy.hamiltonian import ising_to_qubo, qubo_to_ising, to_pennylane


def test_patient_json_round_trip(tmp_path):
    p = synthetic_patient(3)
    path = tmp_path / "p.json"
    p.save(path)
    q = Patient.load(path)
    assert q == p
    assert Patient.from_json(p.to_json()).to_dict() == p.to_dict()


def test_synthetic_patients_are_seeded_and_valid():
    assert synthetic_patient(5) == synthetic_patient(5)
    assert synthetic_patient(5) != synthetic_patient(6)
    for s in range(20):
        synthetic_patient(s).validate()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["dose_limits"].__setitem__("chemo", -1), "patient.dose_limits.chemo"),
        (lambda d: d["markers"].__setitem__("pdl1", 1.5), "patient.markers.pdl1"),
        (lambda d: d["markers"].pop("tmb"), "patient.markers.tmb"),
        (lambda d: d["organ"].__setitem__("ecog", "two"), "patient.organ.ecog"),
        (lambda d: d.__setitem__("colour", 1), "colour"),
    ],
)
def test_patient_validation_names_the_field(edit, field):
    d = synthetic_patient(1).to_dict()
    edit(d)
    with pytest.raises(DqflError, match=field.replace(".", r"\.")):
        Patient.from_json(json.dumps(d))


def test_malformed_json_is_a_user_error():
    with pytest.raises(DqflError, match="not valid JSON"):
        Patient.from_json("{oops")


def test_default_encoding_is_six_qubits_and_large_instances_work():
    assert PlanEncoding().n_qubits == 6
    enc = PlanEncoding(levels=(0.5, 1.0), n_slots=3)
    problem = build_problem(synthetic_patient(2), enc)
    assert problem.n == 18
    e = problem.qubo.all_energies()
    assert e.shape == (1 << 18,)
    with pytest.raises(DqflError):
        PlanEncoding(levels=(0.5, 1.0), n_slots=4)  # 24 qubits


def test_qubo_vectorised_energies_match_scalar():
    problem = build_problem(synthetic_patient(4), PlanEncoding(levels=(0.5, 1.0), n_slots=1))
    q = problem.qubo
    e = q.all_energies()
    for i in range(1 << q.n):
        assert e[i] == pytest.approx(q.energy(index_to_bits(i, q.n)), abs=1e-12)
    total = sum(
        problem.terms[k].all_energies() * getattr(problem.weights, k)
        for k in ("eff", "tox", "sched", "dose")
    )
    np.testing.assert_allclose(total, e, atol=1e-12)


def test_qubo_ising_round_trip():
    q = build_problem(synthetic_patient(7)).qubo
    ising = qubo_to_ising(q)
    np.testing.assert_allclose(ising.diagonal(), q.all_energies(), atol=1e-12)
    back = ising_to_qubo(ising)
    np.testing.assert_allclose(back.linear, q.linear, atol=1e-12)
    np.testing.assert_allclose(back.quad, q.quad, atol=1e-12)
    assert back.offset == pytest.approx(q.offset, abs=1e-12)


def test_pennylane_hamiltonian_equals_qubo_cost_on_every_bitstring():
    import pennylane as qml

    problem = build_problem(synthetic_patient(1))
    q = problem.qubo
    ising = qubo_to_ising(q)
    h = to_pennylane(ising, include_offset=True)
    diag = np.real(np.diag(qml.matrix(h, wire_order=range(q.n))))
    np.testing.assert_allclose(diag, q.all_energies(), atol=1e-10)
    # the offset is tracked separately too
    h0 = to_pennylane(ising, include_offset=False)
    diag0 = np.real(np.diag(qml.matrix(h0, wire_order=range(q.n))))
    np.testing.assert_allclose(diag0 + ising.offset, q.all_energies(), atol=1e-10)


def test_optimum_respects_hard_constraints_and_standard_of_care_is_feasible():
    for s in range(12):
        problem = build_problem(synthetic_patient(s), PlanEncoding(levels=(0.5, 1.0), n_slots=1))
        e = problem.qubo.all_energies()
        assert problem.feasible(index_to_bits(int(np.argmin(e)), problem.n))
        assert problem.feasible(problem.standard_of_care())
