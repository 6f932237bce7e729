"""Classical baselines under the same accounting of cost-function evaluations.

Accounting (one *evaluation* = one look at the cost function by the solver):

* exact brute force: 2^n evaluations (vectorised numpy; ground truth, n <= 20).
* simulated annealing (dwave-samplers ``SimulatedAnnealingSampler``): one *sweep* (a Metropolis
  pass over all n spins) counts as one evaluation, so a read costs ``num_sweeps`` evaluations and
  a run ``num_reads * num_sweeps``. A read's plan is only known when the read ends, so the trace
  has a point every ``num_sweeps`` evaluations. This is generous to SA: a sweep computes n local
  energy differences, so counting single-spin updates would multiply SA's cost by n.
* genetic algorithm (pygad): every call of the fitness function counts, duplicates included.

Every solver returns the plans it produced in order with the evaluation count at which each became
available, so :mod:`.metrics` can compute best-cost-so-far curves on a common axis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dqfl.errors import DqflError
from dqfl.therapy.encoding import index_to_bits
from dqfl.therapy.qubo import Qubo


@dataclass
class SolverResult:
    name: str
    bits: np.ndarray  # the plan returned
    cost: float
    trace_evals: np.ndarray  # evaluation count at which trace_cost[k] became available
    trace_cost: np.ndarray  # cost of the plan produced at that point
    output_costs: np.ndarray  # costs of the solver's output distribution (for <E>, P(opt))
    output_weights: np.ndarray  # probability of each output_costs entry
    n_evals: int
    seconds: float


@dataclass
class ExactResult:
    energies: np.ndarray  # cost of every basis state (PennyLane index order)
    bits: np.ndarray
    e_min: float
    e_max: float
    seconds: float

    @property
    def optimum_index(self) -> int:
        return int(np.argmin(self.energies))


def exact(qubo: Qubo) -> ExactResult:
    """Brute force over all 2^n plans (n <= 20)."""
    if qubo.n > 20:
        raise DqflError(f"exact solver supports n <= 20 qubits; got {qubo.n}")
    t0 = time.perf_counter()
    e = qubo.all_energies()
    i = int(np.argmin(e))
    return ExactResult(
        e, index_to_bits(i, qubo.n), float(e[i]), float(e.max()), time.perf_counter() - t0
    )


def simulated_annealing(
    qubo: Qubo, budget: int = 500, num_sweeps: int = 16, seed: int = 0
) -> SolverResult:
    """dwave-samplers SA with ``budget // num_sweeps`` reads (see the accounting above)."""
    import dimod
    from dwave.samplers import SimulatedAnnealingSampler

    if num_sweeps < 1 or budget < num_sweeps:
        raise DqflError(f"SA needs 1 <= num_sweeps <= budget; got {num_sweeps}, {budget}")
    n = qubo.n
    bqm = dimod.BinaryQuadraticModel(
        {i: float(qubo.linear[i]) for i in range(n)},
        {
            (i, j): float(qubo.quad[i, j])
            for i in range(n)
            for j in range(i + 1, n)
            if qubo.quad[i, j] != 0.0
        },
        float(qubo.offset),
        dimod.BINARY,
    )
    for i in range(n):  # make sure every variable exists even without terms
        bqm.add_variable(i)
    reads = budget // num_sweeps
    t0 = time.perf_counter()
    sampleset = SimulatedAnnealingSampler().sample(
        bqm, num_reads=reads, num_sweeps=num_sweeps, seed=int(seed) % (2**31)
    )
    seconds = time.perf_counter() - t0
    order = [sampleset.variables.index(i) for i in range(n)]
    samples = np.asarray(sampleset.record.sample)[:, order].astype(np.uint8)
    costs = qubo.energies(samples)
    k = int(np.argmin(costs))
    return SolverResult(
        name="SA",
        bits=samples[k],
        cost=float(costs[k]),
        trace_evals=np.arange(1, reads + 1) * num_sweeps,
        trace_cost=costs,
        output_costs=costs,
        output_weights=np.full(reads, 1.0 / reads),
        n_evals=reads * num_sweeps,
        seconds=seconds,
    )


def genetic_algorithm(
    qubo: Qubo, budget: int = 500, population: int = 10, seed: int = 0
) -> SolverResult:
    """pygad GA on bitstrings; fitness = -cost; stops once ``budget`` fitness calls are used.

    Steady-state parent selection, single-point crossover, one random gene mutation, elitism 1.
    The output distribution is the final population (uniform weights).
    """
    import logging

    import pygad

    n = qubo.n
    calls: list[float] = []

    def fitness(_ga, solution, _idx) -> float:
        c = qubo.energy(np.asarray(solution, dtype=np.uint8))
        calls.append(c)
        return -c

    def on_generation(_ga):
        if len(calls) >= budget:
            return "stop"
        return None

    logger = logging.getLogger("dqfl.therapy.pygad")
    logger.setLevel(logging.ERROR)
    t0 = time.perf_counter()
    ga = pygad.GA(
        num_generations=budget,  # an upper bound; on_generation stops on the evaluation budget
        num_parents_mating=max(2, population // 2),
        fitness_func=fitness,
        sol_per_pop=population,
        num_genes=n,
        gene_space=[0, 1],
        gene_type=int,
        parent_selection_type="sss",
        crossover_type="single_point",
        mutation_type="random",
        mutation_num_genes=1,
        keep_elitism=1,
        random_seed=int(seed) % (2**31),
        suppress_warnings=True,
        on_generation=on_generation,
        logger=logger,
    )
    ga.run()
    seconds = time.perf_counter() - t0
    trace = np.asarray(calls, dtype=float)  # the last generation may overshoot the budget
    pop = np.asarray(ga.population, dtype=np.uint8)
    pop_costs = qubo.energies(pop)
    best_i = int(np.argmin(pop_costs))
    return SolverResult(
        name="GA",
        bits=pop[best_i],
        cost=float(pop_costs[best_i]),
        trace_evals=np.arange(1, len(trace) + 1),
        trace_cost=trace,
        output_costs=pop_costs,
        output_weights=np.full(len(pop), 1.0 / len(pop)),
        n_evals=len(calls),
        seconds=seconds,
    )
