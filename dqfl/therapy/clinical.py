"""Patient-specific efficacy, toxicity and dose targets (a synthetic, documented model).

Numbers are illustrative, chosen so that the trade-offs are non-trivial, not fitted to data.

Efficacy per standard dose unit, e_m:
  chemo   0.35 + 0.35 HER2, times (0.6 + 0.8 r) after prior chemo with response r
  radio   0.55 - 0.30 EGFR (EGFR-like marker = radio-resistance)
  immuno  0.10 + 0.50 PD-L1 + 0.25 min(TMB/20, 1), times (0.5 + r) after prior immuno
Dose response is concave for efficacy (d^0.7) and convex for toxicity (d^1.3), so reduced dose
levels are a genuine option when the encoding has them.

Toxicity per standard dose unit, t_m, all scaled by frailty
f = 1 + 0.15 ECOG + 0.05 comorbidities + 0.01 max(0, age - 65):
  chemo   0.45 f renal hepatic cardiac, renal = 1 + max(0, (60 - GFR)/60),
          hepatic = 1 + 0.5 max(0, bilirubin - 1), cardiac = 1 + max(0, (50 - LVEF)/25)
  radio   0.30 f (1 + prior fraction of the lifetime radiation limit used)
  immuno  0.18 f (1 + 0.3 max(0, bilirubin - 1)) (1 + 0.5 max(0, (50 - LVEF)/25))

Recommended cumulative dose (dose target, in standard units, capped at the patient's maximum):
  chemo 0.75 S (x 0.75 if GFR < 60, x 0.75 if bilirubin > 1.5), radio 1.0,
  immuno 0.5 S if PD-L1 >= 0.05 or TMB >= 10 else 0, where S is the number of slots.
"""

from __future__ import annotations

from dataclasses import dataclass

from dqfl.therapy.patient import MODALITIES, Patient

EFF_EXP = 0.7
TOX_EXP = 1.3


@dataclass(frozen=True)
class ClinicalProfile:
    """Per-modality coefficients derived from one patient (keyed by modality name)."""

    efficacy: dict[str, float]
    toxicity: dict[str, float]
    target_dose: dict[str, float]
    max_dose: dict[str, float]
    frail: bool  # ECOG >= 2: concurrent modalities are penalised in the schedule


def profile(patient: Patient, n_slots: int) -> ClinicalProfile:
    """Derive efficacy/toxicity/dose targets from a validated patient."""
    mk, h, o = patient.markers, patient.history, patient.organ
    e_chemo = 0.35 + 0.35 * mk.her2
    if h.prior_chemo_response is not None:
        e_chemo *= 0.6 + 0.8 * h.prior_chemo_response
    e_radio = 0.55 - 0.30 * mk.egfr
    e_immuno = 0.10 + 0.50 * mk.pdl1 + 0.25 * min(mk.tmb / 20.0, 1.0)
    if h.prior_immuno_response is not None:
        e_immuno *= 0.5 + h.prior_immuno_response

    frailty = 1 + 0.15 * o.ecog + 0.05 * min(o.comorbidities, 6) + 0.01 * max(0, patient.age - 65)
    renal = 1 + max(0.0, (60 - o.renal_gfr) / 60)
    hepatic = 1 + 0.5 * max(0.0, o.bilirubin_uln - 1)
    cardiac = max(0.0, (50 - o.cardiac_lvef) / 25)
    t_chemo = 0.45 * frailty * renal * hepatic * (1 + cardiac)
    t_radio = 0.30 * frailty * (1 + h.prior_radio_fraction)
    t_immuno = 0.18 * frailty * (1 + 0.3 * max(0.0, o.bilirubin_uln - 1)) * (1 + 0.5 * cardiac)

    chemo_target = 0.75 * n_slots
    if o.renal_gfr < 60:
        chemo_target *= 0.75
    if o.bilirubin_uln > 1.5:
        chemo_target *= 0.75
    immuno_target = 0.5 * n_slots if (mk.pdl1 >= 0.05 or mk.tmb >= 10) else 0.0
    max_dose = {m: patient.dose_limits.of(m) for m in MODALITIES}
    target = {"chemo": chemo_target, "radio": 1.0, "immuno": immuno_target}
    target = {m: min(v, max_dose[m]) for m, v in target.items()}
    return ClinicalProfile(
        efficacy={"chemo": e_chemo, "radio": e_radio, "immuno": e_immuno},
        toxicity={"chemo": t_chemo, "radio": t_radio, "immuno": t_immuno},
        target_dose=target,
        max_dose=max_dose,
        frail=o.ecog >= 2,
    )
