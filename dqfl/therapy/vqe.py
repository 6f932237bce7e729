"""VQE on the diagonal therapy Hamiltonian: COBYLA, Nelder-Mead fallback, shots, noise, CVaR.

One *evaluation* = one call of the objective = one circuit configuration run for ``shots`` shots
(or evaluated exactly when ``shots`` is None). The energy estimate of an evaluation is the sample
mean of E(x) over the shots (or the CVaR_alpha: the mean of the lowest alpha fraction), computed
from the noisy output distribution p(x) as sum_x p(x) E(x) because the Hamiltonian is diagonal.

The plan *read out* at an evaluation is the most frequent bitstring among its shots (the mode of
p(x) without shots); the plan returned is the lowest-cost plan read out over the run (a plan's cost
is classically cheap to check, and SA and GA likewise return the best plan they produced). The
convergence trace records the read-out plan's cost, a conservative choice: taking the best of the
1024 sampled bitstrings would amount to 1024 classical cost evaluations per VQE evaluation (on 6
qubits, 64 plans, a brute-force search in disguise).

The final parameters are those with the lowest estimated energy; ``expected_cost`` and
``probabilities`` describe the exact noisy distribution they prepare (no shot noise).

Optimiser: COBYLA (scipy) with ``max_evals * cobyla_share`` evaluations; if it stops without
converging (success False) or without improving on the initial energy, Nelder-Mead continues from
COBYLA's best parameters with the remaining evaluations (the paper's "fallback for poor
convergence").
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from dqfl.errors import DqflError
from dqfl.therapy.ansatz import DEFAULT_LAYERS, initial_params
from dqfl.therapy.encoding import index_to_bits
from dqfl.therapy.noise import NoiseModel, device_noise
from dqfl.therapy.simulator import probabilities


@dataclass(frozen=True)
class VQEConfig:
    layers: int = DEFAULT_LAYERS
    shots: int | None = 1024  # None: exact expectation values
    noise: NoiseModel | None = field(default_factory=device_noise)  # None: noiseless
    max_evals: int = 500
    cobyla_share: float = 0.75
    rhobeg: float = 0.3
    tol: float = 1e-3
    cvar_alpha: float = 1.0  # 1.0: plain expectation value
    init: str = "plus"  # see ansatz.initial_params
    seed: int = 0

    def validate(self) -> None:
        if self.layers < 1:
            raise DqflError(f"therapy.layers must be >= 1; got {self.layers}")
        if self.shots is not None and self.shots < 1:
            raise DqflError(f"therapy.shots must be >= 1; got {self.shots}")
        if self.max_evals < 2:
            raise DqflError(f"therapy.max_evals must be >= 2; got {self.max_evals}")
        if not 0 < self.cvar_alpha <= 1:
            raise DqflError(f"therapy.cvar_alpha must be in (0, 1]; got {self.cvar_alpha}")
        if not 0 < self.cobyla_share <= 1:
            raise DqflError(f"therapy.cobyla_share must be in (0, 1]; got {self.cobyla_share}")
        if self.noise is not None:
            self.noise.validate("therapy.noise")


@dataclass
class VQEResult:
    bits: np.ndarray  # best plan read out during the run
    cost: float  # its cost
    energy: float  # final estimated energy (last evaluation)
    expected_cost: float  # exact sum_x p(x) E(x) of the final noisy distribution
    probabilities: np.ndarray  # final noisy read-out distribution p(x)
    params: np.ndarray
    n_evals: int
    energy_trace: list[float]  # estimate per evaluation
    cost_trace: list[float]  # cost of the plan read out per evaluation
    optimizers: list[str]
    seconds: float


def cvar(energies: np.ndarray, weights: np.ndarray, alpha: float) -> float:
    """Mean of the lowest-alpha probability mass of a discrete distribution (alpha=1: mean)."""
    if alpha >= 1.0:
        return float(weights @ energies / weights.sum())
    order = np.argsort(energies, kind="stable")
    w = weights[order] / weights.sum()
    cum = np.cumsum(w)
    take = np.minimum(w, np.maximum(alpha - (cum - w), 0.0))
    return float(take @ energies[order] / alpha)


def run_vqe(energies: np.ndarray, n_qubits: int, config: VQEConfig | None = None) -> VQEResult:
    """Minimise <H> for the diagonal Hamiltonian with the given basis-state energies."""
    from scipy.optimize import minimize

    cfg = config or VQEConfig()
    cfg.validate()
    energies = np.asarray(energies, dtype=float)
    if energies.shape != (1 << n_qubits,):
        raise DqflError(f"need 2^{n_qubits} energies; got shape {energies.shape}")
    rng = np.random.default_rng([cfg.seed, 23])
    start = time.perf_counter()
    energy_trace: list[float] = []
    cost_trace: list[float] = []
    best = {"value": np.inf, "params": None}
    modes: list[int] = []

    def objective(theta: np.ndarray) -> float:
        if len(energy_trace) >= cfg.max_evals:
            return best["value"] + 1e3  # budget exhausted; steer the optimiser to stop
        p = probabilities(theta, n_qubits, cfg.layers, cfg.noise)
        if cfg.shots is None:
            value = cvar(energies, p, cfg.cvar_alpha)
            mode = int(np.argmax(p))
        else:
            counts = rng.multinomial(cfg.shots, p).astype(float)
            value = cvar(energies, counts, cfg.cvar_alpha)
            mode = int(np.argmax(counts))
        energy_trace.append(value)
        cost_trace.append(float(energies[mode]))
        modes.append(mode)
        if value < best["value"]:
            best["value"], best["params"] = value, np.array(theta, copy=True)
        return value

    theta0 = initial_params(n_qubits, cfg.layers, cfg.seed, cfg.init)
    used: list[str] = ["COBYLA"]
    cobyla_budget = max(2, int(round(cfg.max_evals * cfg.cobyla_share)))
    with warnings.catch_warnings():
        # scipy raises maxiter to n_params + 2 when the budget is smaller (large instances);
        # the objective itself enforces the budget, so the warning is noise.
        warnings.filterwarnings("ignore", message=".*MAXFUN.*")
        res = minimize(
            objective,
            theta0,
            method="COBYLA",
            options={"maxiter": cobyla_budget, "rhobeg": cfg.rhobeg, "tol": cfg.tol},
        )
    first = energy_trace[0]
    poor = (not res.success) or best["value"] >= first - 1e-9
    remaining = cfg.max_evals - len(energy_trace)
    if poor and remaining > 1:
        used.append("Nelder-Mead")
        minimize(
            objective,
            best["params"],
            method="Nelder-Mead",
            options={"maxfev": remaining, "xatol": 1e-4, "fatol": 1e-6, "adaptive": True},
        )
    theta = best["params"] if best["params"] is not None else np.asarray(res.x)
    p_final = probabilities(theta, n_qubits, cfg.layers, cfg.noise)
    mode = modes[int(np.argmin(cost_trace))]
    return VQEResult(
        bits=index_to_bits(mode, n_qubits),
        cost=float(energies[mode]),
        energy=energy_trace[-1],
        expected_cost=float(p_final @ energies),
        probabilities=p_final,
        params=theta,
        n_evals=len(energy_trace),
        energy_trace=energy_trace,
        cost_trace=cost_trace,
        optimizers=used,
        seconds=time.perf_counter() - start,
    )
