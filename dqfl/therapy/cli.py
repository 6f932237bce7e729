"""`dqfl therapy`: plan one patient, benchmark the solvers, train the tumour classifier.

Heavy imports stay inside the commands so that ``dqfl --help`` is fast. User mistakes raise
:class:`dqfl.errors.DqflError`; the top-level ``dqfl`` entry point prints ``error: ...`` and
exits 2.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from dqfl.errors import DqflError

app = typer.Typer(
    help="VQE planner for multi-modal cancer therapy (synthetic patients; research only).",
    no_args_is_help=True,
    add_completion=False,
)


def _console():
    """Rich console; 120 columns when not a terminal (rich's 80 would squeeze the tables)."""
    from rich.console import Console

    probe = Console()
    return probe if probe.is_terminal else Console(width=120)


def _patient(patient: Path | None, seed: int | None):
    from dqfl.therapy.patient import Patient, synthetic_patient

    if patient is not None and seed is not None:
        raise DqflError("give either --patient FILE or --seed N, not both")
    if patient is not None:
        return Patient.load(patient)
    return synthetic_patient(0 if seed is None else seed)


def _plan_text(enc, bits) -> str:
    """Compact schedule, one group per slot: C/R/I = chemo/radio/immuno, xd = dose fraction."""
    plan = enc.decode(bits)
    parts = []
    for s in range(enc.n_slots):
        given = [
            f"{m[0].upper()}{'' if d == 1.0 else f'x{d:g}'}"
            for m, doses in plan.items()
            if (d := doses[s]) > 0
        ]
        parts.append("+".join(given) if given else "-")
    return " | ".join(parts)


@app.command()
def plan(
    patient: Annotated[Path | None, typer.Option("--patient", help="Patient JSON file.")] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Synthetic patient seed (default 0).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write QUBO and plans as JSON.")
    ] = None,
    slots: Annotated[int, typer.Option(help="Sequence slots.")] = 2,
    levels: Annotated[str, typer.Option(help="Comma-separated dose levels (fractions).")] = "1.0",
    budget: Annotated[int, typer.Option(help="Cost-function evaluations per solver.")] = 500,
    shots: Annotated[int, typer.Option(help="Shots per VQE evaluation.")] = 1024,
    noise: Annotated[str, typer.Option(help="VQE noise: 'default' or 'none'.")] = "default",
    layers: Annotated[int, typer.Option(help="Ansatz layers.")] = 6,
    cvar: Annotated[float, typer.Option(help="CVaR alpha for the VQE objective (1 = mean).")] = 1.0,
    solver_seed: Annotated[int, typer.Option(help="Seed of the solvers.")] = 0,
) -> None:
    """Plan one patient with VQE, SA and GA and compare with the exact optimum."""
    from rich.table import Table

    from dqfl.therapy.baselines import exact, genetic_algorithm, simulated_annealing
    from dqfl.therapy.benchmark import parse_levels
    from dqfl.therapy.encoding import PlanEncoding, bitstring
    from dqfl.therapy.hamiltonian import qubo_to_ising
    from dqfl.therapy.noise import device_noise
    from dqfl.therapy.qubo import build_problem
    from dqfl.therapy.simulator import MAX_NOISY_QUBITS
    from dqfl.therapy.vqe import VQEConfig, run_vqe

    if noise not in ("default", "none"):
        raise DqflError(f"--noise must be 'default' or 'none'; got {noise!r}")
    if budget < 20:
        raise DqflError(f"--budget must be >= 20; got {budget}")
    console = _console()
    pat = _patient(patient, seed)
    enc = PlanEncoding(levels=parse_levels(levels), n_slots=slots)
    problem = build_problem(pat, enc)
    noisy = noise == "default"
    if noisy and problem.n > MAX_NOISY_QUBITS:
        console.print(
            f"[yellow]{problem.n} qubits: too many for the density-matrix simulator; "
            "running the VQE noiseless with exact expectations.[/yellow]"
        )
        noisy = False
    q = problem.qubo
    ex = exact(q)
    vcfg = VQEConfig(
        layers=layers,
        shots=shots if noisy else None,
        noise=device_noise() if noisy else None,
        max_evals=budget,
        cvar_alpha=cvar,
        seed=solver_seed,
    )
    t0 = time.perf_counter()
    vqe = run_vqe(ex.energies, problem.n, vcfg)
    results = {
        "exact": (ex.bits, 1 << problem.n, ex.seconds),
        "VQE" + (" (noisy)" if noisy else " (ideal)"): (vqe.bits, vqe.n_evals, vqe.seconds),
    }
    sa = simulated_annealing(q, budget, 16, solver_seed)
    ga = genetic_algorithm(q, budget, 10, solver_seed)
    results["SA"] = (sa.bits, sa.n_evals, sa.seconds)
    results["GA"] = (ga.bits, ga.n_evals, ga.seconds)
    soc = problem.standard_of_care()
    seconds = time.perf_counter() - t0

    w = problem.weights
    console.print(
        f"[bold]Patient[/bold] {pat.patient_id}: age {pat.age}, ECOG {pat.organ.ecog}, "
        f"PD-L1 {pat.markers.pdl1:.2f}, TMB {pat.markers.tmb:.1f}, "
        f"GFR {pat.organ.renal_gfr:.0f}, LVEF {pat.organ.cardiac_lvef:.0f} %"
    )
    console.print(
        f"{problem.n} qubits ({', '.join(enc.label(i) for i in range(problem.n))}); "
        f"weights eff {w.eff:g}, tox {w.tox:g}, sched {w.sched:g}, dose {w.dose:g}; "
        f"hard-constraint penalty {problem.penalty:.2f}"
    )
    table = Table(
        title="Plans and cost terms (C_* unweighted; cost = weighted sum)",
        caption="plan: slot 0 | slot 1 | ...; C/R/I = chemo/radio/immuno at the standard "
        "dose, xd = dose fraction; ! = violates a hard constraint",
    )
    for col in ("solver", "plan", "cost", "C_eff", "C_tox", "C_sched", "C_dose", "evals", "s"):
        table.add_column(
            col, justify="left" if col in ("solver", "plan") else "right", no_wrap=True
        )
    rows = list(results.items()) + [("std of care", (soc, 0, 0.0))]
    for name, (bits, evals, secs) in rows:
        b = problem.breakdown(bits)
        mark = "" if problem.feasible(bits) else " !"
        table.add_row(
            name,
            _plan_text(enc, bits) + mark,
            f"{b['cost']:.3f}",
            f"{b['C_eff']:.3f}",
            f"{b['C_tox']:.3f}",
            f"{b['C_sched']:.2f}",
            f"{b['C_dose']:.2f}",
            str(evals),
            f"{secs:.1f}",
        )
    console.print(table)
    console.print(
        f"VQE: <H> of final state {vqe.expected_cost:.4f} (optimum {ex.e_min:.4f}), "
        f"P(optimal plan) {vqe.probabilities[ex.optimum_index]:.3f}, "
        f"optimisers {' -> '.join(vqe.optimizers)}; solvers took {seconds:.1f} s"
    )

    if json_out is not None:
        ising = qubo_to_ising(q)
        doc = {
            "patient": pat.to_dict(),
            "encoding": {
                "levels": list(enc.levels),
                "slots": enc.n_slots,
                "labels": [enc.label(i) for i in range(problem.n)],
            },
            "weights": {"eff": w.eff, "tox": w.tox, "sched": w.sched, "dose": w.dose},
            "qubo": {
                **q.to_json(),
                "note": "cost(x) = x^T Q x + offset, Q upper triangular, x_i in {0,1}; "
                "x_0 is wire 0 (most significant bit)",
            },
            "ising": {
                "h": ising.h.tolist(),
                "J": ising.J.tolist(),
                "offset": ising.offset,
                "note": "E(z) = offset + h.z + z^T J z, z_i = 1 - 2 x_i",
            },
            "terms": {k: v.to_json() for k, v in problem.terms.items()},
            "plans": {
                name: {
                    "bits": bitstring(bits),
                    "plan": enc.decode(bits),
                    "evaluations": evals,
                    "seconds": secs,
                    "feasible": problem.feasible(bits),
                    **problem.breakdown(bits),
                }
                for name, (bits, evals, secs) in rows
            },
        }
        try:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(doc, indent=2) + "\n")
        except OSError as exc:
            raise DqflError(f"cannot write {json_out}: {exc}") from None
        console.print(f"wrote {json_out}")


@app.command()
def benchmark(
    patients: Annotated[int, typer.Option(help="Synthetic patients (seeds 0..N-1 + offset).")] = 4,
    seeds: Annotated[int, typer.Option(help="Solver seeds per patient.")] = 2,
    out: Annotated[Path, typer.Option(help="Output folder (table; figures/ below it).")] = Path(
        "docs"
    ),
    budget: Annotated[int, typer.Option(help="Cost-function evaluations per run.")] = 500,
    shots: Annotated[int, typer.Option(help="Shots per noisy VQE evaluation.")] = 1024,
    layers: Annotated[int, typer.Option(help="Ansatz layers.")] = 6,
    slots: Annotated[int, typer.Option(help="Sequence slots.")] = 2,
    levels: Annotated[str, typer.Option(help="Comma-separated dose levels.")] = "1.0",
    offset: Annotated[int, typer.Option(help="First synthetic patient seed.")] = 0,
    cvar: Annotated[float, typer.Option(help="CVaR alpha of the VQE objective.")] = 1.0,
    eps: Annotated[
        float, typer.Option(help="Tolerance (fraction of the cost range) for 'converged'.")
    ] = 0.01,
    solvers: Annotated[
        str, typer.Option(help="Comma-separated solvers.")
    ] = "VQE-noisy,VQE-ideal,SA,GA",
) -> None:
    """Benchmark VQE vs SA vs GA over synthetic patients; writes Markdown, CSV and PNGs.

    The defaults (4 patients x 2 seeds, 6 qubits) take about 2-3 minutes on 2 busy cores
    (8 patients x 2 seeds: about 5 minutes).
    """
    import sys

    from rich.table import Table

    from dqfl.therapy.benchmark import TherapyBenchConfig, run_benchmark, summarise, write_outputs

    cfg = TherapyBenchConfig(
        patients=patients,
        seeds=seeds,
        patient_offset=offset,
        budget=budget,
        shots=shots,
        layers=layers,
        slots=slots,
        levels=levels,
        eps=eps,
        cvar_alpha=cvar,
        solvers=solvers,
    )
    cfg.validate()
    if cfg.encoding().n_qubits > 10 and "VQE-noisy" in cfg.solver_list():
        raise DqflError("VQE-noisy supports at most 10 qubits; drop it from --solvers")
    from dqfl.outputs import check_folder

    check_folder(out, "--out")
    check_folder(out / "figures", "--out")
    console = _console()

    def progress(row: dict) -> None:
        console.print(
            f"patient {row['patient']} seed {row['seed']} {row['solver']:9s} "
            f"cost {row['cost']:.4f} (opt {row['e_min']:.4f}) "
            f"{row['wall_s']:.1f} s",
            highlight=False,
        )

    result = run_benchmark(cfg, progress)
    command = (
        "dqfl therapy " + " ".join(sys.argv[sys.argv.index("therapy") + 1 :])
        if "therapy" in sys.argv
        else "dqfl therapy benchmark"
    )
    try:
        paths = write_outputs(result, out, command)
    except (OSError, ValueError) as exc:
        raise DqflError(f"cannot write the benchmark outputs to {out}: {exc}") from None
    table = Table(title=f"Therapy benchmark ({result['seconds']:.0f} s)")
    summary = summarise(result)
    for col in (
        "solver",
        "found opt",
        "approx ratio",
        "P(opt)",
        "median evals to eps",
        "tox reduction (eff >= SoC)",
    ):
        table.add_column(col)
    for s in summary:
        med = s["median_evals_to_eps"]
        red = s["mean_tox_reduction"]
        table.add_row(
            s["solver"],
            f"{s['found_optimum']:.0%}",
            f"{s['approx_ratio']:.3f}",
            f"{s['p_opt']:.3f}",
            "> budget" if med == float("inf") else f"{med:.0f}",
            "n/a" if red != red else f"{red:.1%}",
        )
    console.print(table)
    for p in paths.values():
        console.print(f"wrote {p}")


@app.command()
def classify(
    out: Annotated[Path, typer.Option(help="Boundary PNG.")] = Path(
        "docs/figures/therapy_classifier.png"
    ),
    seed: Annotated[int, typer.Option(help="Data and training seed.")] = 0,
    qubits: Annotated[int, typer.Option(help="Qubits of the classifier (2-4).")] = 2,
    layers: Annotated[int, typer.Option(help="Variational layers.")] = 3,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 60,
    samples: Annotated[int, typer.Option(help="Synthetic tumours (train + test).")] = 400,
) -> None:
    """Train the variational quantum tumour classifier; plot its decision boundary."""
    from dqfl.outputs import FIGURE_SUFFIXES, check_file, save
    from dqfl.therapy.classifier import ClassifierConfig, run_classifier

    cfg = ClassifierConfig(
        seed=seed, n_qubits=qubits, layers=layers, epochs=epochs, n_samples=samples
    )
    cfg.validate()
    check_file(out, "--out", FIGURE_SUFFIXES)
    results: list[dict] = []
    save(out, lambda tmp: results.append(run_classifier(cfg, tmp)))
    res = results[0]
    typer.echo(
        f"test accuracy: VQC {res['vqc']:.3f} | logistic regression {res['logreg']:.3f} | "
        f"RBF SVM {res['svm']:.3f} | majority class {res['chance']:.3f} "
        f"(n_test={res['n_test']}, {res['seconds']:.1f} s)"
    )
    typer.echo(f"wrote {out}")
