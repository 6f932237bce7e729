"""Solution-quality metrics, all normalised by the exact cost range of the instance.

* approximation ratio r = (E_max - <E>) / (E_max - E_min), where <E> is the expected cost of the
  solver's *output distribution* (VQE: the final noisy read-out distribution p(x); SA: the reads;
  GA: the final population). r = 1 is the optimum, r = 0 the worst plan. E_max includes heavily
  penalised infeasible plans, so r is generous: a uniformly random plan already scores ~0.8-0.9;
  the normalised gap and P(optimum) are the sharper numbers.
* P(optimum): probability mass of the output distribution on optimal plans (all plans within
  1e-9 of E_min: optima can be degenerate, e.g. two mirror-image schedules).
* evaluations to epsilon: the first evaluation count at which the best cost so far is within
  eps (E_max - E_min) of E_min (eps = 0.01 by default; the cost range makes it scale-free).
* normalised gap g = (best so far - E_min) / (E_max - E_min); before a solver has produced any
  plan, g = 1.
* toxicity vs standard of care: the found plan's cumulative toxicity score C_tox against that of the
  rule-based reference plan, counted only when its efficacy (-C_eff) is equal or better.
"""

from __future__ import annotations

import numpy as np

from dqfl.therapy.encoding import index_to_bits
from dqfl.therapy.qubo import TherapyProblem

OPT_TOL = 1e-9


def approximation_ratio(expected: float, e_min: float, e_max: float) -> float:
    span = e_max - e_min
    return 1.0 if span <= 0 else float((e_max - expected) / span)


def expected_cost(costs: np.ndarray, weights: np.ndarray) -> float:
    w = np.asarray(weights, dtype=float)
    return float(np.asarray(costs, dtype=float) @ w / w.sum())


def p_optimum(costs: np.ndarray, weights: np.ndarray, e_min: float) -> float:
    w = np.asarray(weights, dtype=float)
    hit = np.asarray(costs) <= e_min + OPT_TOL
    return float(w[hit].sum() / w.sum())


def evals_to_eps(
    trace_evals: np.ndarray, trace_cost: np.ndarray, e_min: float, e_max: float, eps: float
) -> float:
    """First evaluation count with best-so-far within eps of the optimum; NaN if never."""
    threshold = e_min + eps * (e_max - e_min) + OPT_TOL
    hit = np.nonzero(np.asarray(trace_cost) <= threshold)[0]
    return float(trace_evals[hit[0]]) if hit.size else float("nan")


def gap_curve(
    trace_evals: np.ndarray, trace_cost: np.ndarray, e_min: float, e_max: float, grid: np.ndarray
) -> np.ndarray:
    """Normalised gap of the best cost so far at every evaluation count of ``grid``."""
    span = max(e_max - e_min, 1e-12)
    best = np.minimum.accumulate((np.asarray(trace_cost, dtype=float) - e_min) / span)
    pos = np.searchsorted(np.asarray(trace_evals), grid, side="right") - 1
    out = np.ones(len(grid))
    ok = pos >= 0
    out[ok] = best[pos[ok]]
    return np.clip(out, 0.0, 1.0)


def toxicity_vs_standard(problem: TherapyProblem, bits: np.ndarray) -> dict[str, float]:
    """Efficacy/toxicity of a plan and of the standard-of-care plan, and the reduction.

    ``tox_reduction`` = (T_soc - T_plan) / T_soc if the plan's efficacy >= the reference's
    (within 1e-9), else NaN.
    """
    soc = problem.standard_of_care()
    found, ref = problem.breakdown(bits), problem.breakdown(soc)
    eff_ok = found["efficacy"] >= ref["efficacy"] - 1e-9
    red = (ref["toxicity"] - found["toxicity"]) / ref["toxicity"] if ref["toxicity"] > 0 else 0.0
    return {
        "eff_plan": found["efficacy"],
        "tox_plan": found["toxicity"],
        "eff_soc": ref["efficacy"],
        "tox_soc": ref["toxicity"],
        "eff_ok": float(eff_ok),
        "tox_reduction": float(red) if eff_ok else float("nan"),
    }


def best_reduction_at_soc_efficacy(problem: TherapyProblem) -> float:
    """The largest toxicity reduction any *feasible* plan achieves at >= the reference efficacy.

    This is a property of the cost model, not of a solver: an upper bound for every solver.
    """
    soc = problem.standard_of_care()
    eff = -problem.terms["eff"].all_energies()
    tox = problem.terms["tox"].all_energies()
    hard = problem.hard.all_energies()
    ref = problem.breakdown(soc)
    ok = (eff >= ref["efficacy"] - 1e-9) & (hard < 1e-9)
    if not ok.any() or ref["toxicity"] <= 0:
        return 0.0
    return float((ref["toxicity"] - tox[ok].min()) / ref["toxicity"])


def optimal_plans(energies: np.ndarray, n: int) -> list[np.ndarray]:
    e_min = energies.min()
    return [index_to_bits(i, n) for i in np.nonzero(energies <= e_min + OPT_TOL)[0]]
