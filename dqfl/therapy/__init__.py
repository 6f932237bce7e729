"""VQE planner for multi-modal cancer therapy (issue #7).

A synthetic patient (:mod:`.patient`) is turned into a binary plan encoding (:mod:`.encoding`), a
QUBO cost (:mod:`.qubo`), an Ising model and a PennyLane Hamiltonian (:mod:`.hamiltonian`), which a
noisy VQE (:mod:`.vqe`) and classical baselines (:mod:`.baselines`) minimise. Everything here is a
research simulation on synthetic data; none of it is clinical advice.

Heavy dependencies (pennylane, torch, dwave-samplers, pygad) are imported inside the functions that
need them so that ``dqfl --help`` stays fast.
"""

from dqfl.therapy.encoding import PlanEncoding
from dqfl.therapy.patient import Patient, synthetic_patient
from dqfl.therapy.qubo import Qubo, TherapyProblem, build_problem

__all__ = [
    "Patient",
    "PlanEncoding",
    "Qubo",
    "TherapyProblem",
    "build_problem",
    "synthetic_patient",
]
