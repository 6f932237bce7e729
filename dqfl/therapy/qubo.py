"""The therapy cost as a QUBO: H = w_eff C_eff + w_tox C_tox + w_sched C_sched + w_dose C_dose.

Each term is a quadratic pseudo-Boolean function of the plan bits x (see :mod:`.encoding`):

* C_eff  = -(sum_i e_i x_i + sum_{i<j} s_ij x_i x_j): linear efficacy e_m d^0.7 per variable,
  diminishing returns (-25 %) for a second course of the same modality, and synergies
  (concurrent chemo+radio radiosensitisation +0.10 sqrt(e_c e_r); radio followed by immuno in the
  same or a later slot +0.15 PD-L1).
* C_tox  = sum_i t_i x_i + sum_{i<j} c_ij x_i x_j: toxicity t_m d^1.3 per variable and cumulative
  interactions (same modality in consecutive slots +0.30 t_m, non-consecutive +0.10 t_m; concurrent
  chemo+radio +0.35, radio+immuno +0.15, chemo+immuno +0.10, each times sqrt(t_a t_b)).
* C_sched = ordering penalties: radio in slot s followed by chemo in slot s+1 (no marrow recovery
  window) 0.6 (1 + 0.2 ECOG); for frail patients (ECOG >= 2) every pair of modalities given in the
  same slot 0.8.
* C_dose = sum_m (D_m - T_m)^2 with D_m the cumulative dose and T_m the recommended dose, plus hard
  constraints as quadratic penalties (no slack qubits): at most one dose level per modality and
  slot; no single variable or pair of variables of one modality over the patient's maximum
  cumulative dose. Triples over the maximum whose every pair is within it are only discouraged by
  the soft (D - T)^2 term (a quadratic cannot express them without slack variables).

The hard-penalty strength is Lambda / w_dose (w_dose > 0 is required) with
Lambda = 1.2 (largest possible gain from switching one variable on) + 0.5, so after weighting a
violated constraint always costs more than it can gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dqfl.errors import DqflError
from dqfl.therapy.clinical import EFF_EXP, TOX_EXP, ClinicalProfile, profile
from dqfl.therapy.encoding import PlanEncoding, as_bits, index_to_bits
from dqfl.therapy.patient import MODALITIES, Patient, Weights, patient_weights

TERMS: tuple[str, ...] = ("eff", "tox", "sched", "dose")
_CHUNK = 1 << 15


@dataclass
class Qubo:
    """f(x) = offset + sum_i linear_i x_i + sum_{i<j} quad_ij x_i x_j for x in {0,1}^n.

    ``quad`` is kept strictly upper-triangular; :meth:`add` folds (j, i) onto (i, j) and (i, i)
    onto the linear part (x_i^2 = x_i).
    """

    n: int
    linear: np.ndarray = field(default=None)  # type: ignore[assignment]
    quad: np.ndarray = field(default=None)  # type: ignore[assignment]
    offset: float = 0.0

    def __post_init__(self) -> None:
        if self.linear is None:
            self.linear = np.zeros(self.n)
        if self.quad is None:
            self.quad = np.zeros((self.n, self.n))

    def add(self, i: int, j: int, value: float) -> None:
        if i == j:
            self.linear[i] += value
        else:
            a, b = min(i, j), max(i, j)
            self.quad[a, b] += value

    def matrix(self) -> np.ndarray:
        """Upper-triangular Q with the linear part on the diagonal: f = x^T Q x + offset."""
        return self.quad + np.diag(self.linear)

    def scaled(self, w: float) -> Qubo:
        return Qubo(self.n, self.linear * w, self.quad * w, self.offset * w)

    def __add__(self, other: Qubo) -> Qubo:
        return Qubo(
            self.n, self.linear + other.linear, self.quad + other.quad, self.offset + other.offset
        )

    def energy(self, bits: np.ndarray | list[int] | str) -> float:
        x = as_bits(bits, self.n).astype(float)
        return float(self.offset + self.linear @ x + x @ self.quad @ x)

    def energies(self, x: np.ndarray) -> np.ndarray:
        """Vectorised cost of a batch of plans, x of shape (k, n) with 0/1 entries."""
        xf = np.asarray(x, dtype=float)
        return self.offset + xf @ self.linear + np.einsum("ki,ij,kj->k", xf, self.quad, xf)

    def all_energies(self) -> np.ndarray:
        """Cost of every basis state, indexed like PennyLane (wire 0 = most significant bit)."""
        if self.n > 22:
            raise DqflError(f"brute force over 2^{self.n} plans is not supported (n <= 22)")
        total = 1 << self.n
        out = np.empty(total)
        for start in range(0, total, _CHUNK):
            idx = np.arange(start, min(total, start + _CHUNK))
            xf = index_to_bits(idx, self.n).astype(float)
            out[idx] = self.offset + xf @ self.linear + ((xf @ self.quad) * xf).sum(1)
        return out

    def to_json(self) -> dict:
        return {"n": self.n, "matrix": self.matrix().tolist(), "offset": self.offset}


@dataclass
class TherapyProblem:
    """Everything a solver and a report need about one patient's planning problem."""

    patient: Patient
    encoding: PlanEncoding
    weights: Weights
    clinical: ClinicalProfile
    terms: dict[str, Qubo]  # unweighted C_eff, C_tox, C_sched, C_dose
    hard: Qubo  # the hard-constraint part of C_dose, > 0 exactly when a constraint is violated
    penalty: float  # Lambda, in weighted cost units

    @property
    def n(self) -> int:
        return self.encoding.n_qubits

    @property
    def qubo(self) -> Qubo:
        total = Qubo(self.n)
        for name in TERMS:
            total = total + self.terms[name].scaled(getattr(self.weights, name))
        return total

    def cost(self, bits: np.ndarray | list[int] | str) -> float:
        return self.qubo.energy(bits)

    def breakdown(self, bits: np.ndarray | list[int] | str) -> dict[str, float]:
        """Unweighted term values plus clinical read-outs for a report table."""
        out = {f"C_{k}": self.terms[k].energy(bits) for k in TERMS}
        out["efficacy"] = -out["C_eff"]
        out["toxicity"] = out["C_tox"]
        out["cost"] = self.cost(bits)
        return out

    def feasible(self, bits: np.ndarray | list[int] | str) -> bool:
        return self.hard.energy(bits) < 1e-9

    def standard_of_care(self) -> np.ndarray:
        """Reference plan by a fixed rule (not optimised), used to judge toxicity reductions.

        Chemo at the standard dose level (the largest level <= 1.0, else the smallest level) in
        every slot while the cumulative dose stays within the patient's maximum; radio at that
        level in slot 0 if allowed; immuno in every slot only if PD-L1 >= 0.5 (within its
        maximum). That is "full-dose chemo + radio", plus immunotherapy for PD-L1-high tumours.
        """
        enc = self.encoding
        lv = max(
            (k for k, d in enumerate(enc.levels) if d <= 1.0),
            default=None,
            key=lambda k: enc.levels[k],
        )
        if lv is None:
            lv = int(np.argmin(enc.levels))
        dose = enc.levels[lv]
        x = np.zeros(self.n, dtype=np.uint8)
        plan = {
            "chemo": range(enc.n_slots),
            "radio": range(1),
            "immuno": range(enc.n_slots) if self.patient.markers.pdl1 >= 0.5 else range(0),
        }
        for m, name in enumerate(MODALITIES):
            used = 0.0
            for s in plan[name]:
                if used + dose <= self.clinical.max_dose[name] + 1e-9:
                    x[enc.index(m, lv, s)] = 1
                    used += dose
        return x


def build_problem(
    patient: Patient, encoding: PlanEncoding | None = None, weights: Weights | None = None
) -> TherapyProblem:
    """Assemble the four cost terms for one patient (see the module docstring)."""
    enc = encoding or PlanEncoding()
    w = weights or patient_weights(patient)
    if w.dose <= 0:
        raise DqflError(f"therapy weight dose must be > 0; got {w.dose}")
    prof = profile(patient, enc.n_slots)
    n = enc.n_qubits
    var = enc.variables()
    eff, tox, sched, dose = Qubo(n), Qubo(n), Qubo(n), Qubo(n)
    name = [MODALITIES[m] for m, _, _ in var]
    d = [enc.levels[lv] for _, lv, _ in var]
    slot = [s for _, _, s in var]
    e = [prof.efficacy[name[i]] * d[i] ** EFF_EXP for i in range(n)]
    t = [prof.toxicity[name[i]] * d[i] ** TOX_EXP for i in range(n)]
    pdl1 = patient.markers.pdl1
    ecog = patient.organ.ecog

    for i in range(n):
        eff.add(i, i, -e[i])
        tox.add(i, i, t[i])
    synergy_gain = np.zeros(n)  # largest efficacy gain variable i can get from partners
    for i in range(n):
        for j in range(i + 1, n):
            a, b = name[i], name[j]
            same_slot = slot[i] == slot[j]
            if a == b:
                if same_slot:
                    continue  # two levels of one modality in one slot: a hard constraint below
                eff.add(i, j, 0.25 * math.sqrt(e[i] * e[j]))  # diminishing returns
                gap = abs(slot[i] - slot[j])
                tox.add(i, j, (0.30 if gap == 1 else 0.10) * math.sqrt(t[i] * t[j]))
                continue
            pair = {a, b}
            dd = d[i] * d[j]
            if pair == {"chemo", "radio"}:
                if same_slot:
                    s_ = 0.10 * math.sqrt(prof.efficacy["chemo"] * prof.efficacy["radio"]) * dd
                    eff.add(i, j, -s_)
                    synergy_gain[[i, j]] += s_
                    tox.add(i, j, 0.35 * math.sqrt(t[i] * t[j]))
                radio_i, chemo_j = (i, j) if a == "radio" else (j, i)
                if slot[chemo_j] == slot[radio_i] + 1:
                    sched.add(i, j, 0.6 * (1 + 0.2 * ecog))
            elif pair == {"radio", "immuno"}:
                if same_slot:
                    tox.add(i, j, 0.15 * math.sqrt(t[i] * t[j]))
                radio_i, imm_j = (i, j) if a == "radio" else (j, i)
                if slot[imm_j] >= slot[radio_i]:
                    s_ = 0.15 * pdl1 * dd
                    eff.add(i, j, -s_)
                    synergy_gain[[i, j]] += s_
            elif pair == {"chemo", "immuno"} and same_slot:
                tox.add(i, j, 0.10 * math.sqrt(t[i] * t[j]))
            if same_slot and prof.frail:
                sched.add(i, j, 0.8)

    # soft dose term: sum_m (D_m - T_m)^2 expanded; x_i^2 = x_i
    for m, mod in enumerate(MODALITIES):
        idx = [i for i in range(n) if var[i][0] == m]
        target = prof.target_dose[mod]
        dose.offset += target**2
        for a_pos, i in enumerate(idx):
            dose.add(i, i, d[i] ** 2 - 2 * target * d[i])
            for j in idx[a_pos + 1 :]:
                dose.add(i, j, 2 * d[i] * d[j])

    gain = max(w.eff * (e[i] + synergy_gain[i]) for i in range(n))
    gain += w.dose * max(prof.target_dose.values()) ** 2
    penalty = 1.2 * gain + 0.5
    hard = Qubo(n)
    for m, mod in enumerate(MODALITIES):
        idx = [i for i in range(n) if var[i][0] == m]
        cap = prof.max_dose[mod] + 1e-9
        for a_pos, i in enumerate(idx):
            if d[i] > cap:
                hard.add(i, i, 1.0)
            for j in idx[a_pos + 1 :]:
                if slot[i] == slot[j] or d[i] + d[j] > cap:
                    hard.add(i, j, 1.0)
    dose = dose + hard.scaled(penalty / w.dose)  # w.dose > 0 is enforced by validation
    terms = {"eff": eff, "tox": tox, "sched": sched, "dose": dose}
    return TherapyProblem(patient, enc, w, prof, terms, hard, penalty)
