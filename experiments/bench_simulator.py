"""Training-step speed of the DQNN simulators, side by side in one process, one CPU thread.

Workload (the same for every simulator; see ``simulator_peers.py``): the DEFAULT model
(``ModelConfig()`` defaults: 4 blocks of U3 + CU3 ring, amplitude encoding, shared z_zz_all
readout) at n qubits, one step = forward through every exit + the all-exit cross-entropy loss +
backward to every parameter. The optimiser step is NOT included. Ours is built through
``dqfl.quantum.build_model``, so it measures whatever ``simulator="auto"`` picks.

Peers (each configured as its skilled users would, outputs and angle gradients checked against
ours before timing): PennyLane default.qubit (our ``backend="pennylane"``: one QNode per forward,
backprop, broadcasting, snapshots), lightning.qubit (adjoint), Qulacs, TensorCircuit-NG (JAX,
jit), TorchQuantum; a peer that does not import prints its error as its row. Repetitions are
interleaved round-robin (with a 1024x1024 float32 matmul, whose median gives the single-thread
peak the useful FLOPs are compared with); medians are reported. Then the noisy paths: exact
density matrices (ours vs PennyLane default.mixed) and trajectories (cost vs the noiseless step,
standard error of the loss at the trajectory count, a recommended count).

    python experiments/bench_simulator.py [--quick] [--sizes 6,8,10,12] [--batches 32,128]
        [--reps 5] [--peers pennylane,lightning,qulacs,tensorcircuit,torchquantum] [--out F.md]
        [--no-noise | --trajectories-only]
"""

from __future__ import annotations

import os

# One CPU thread for every library, set before any of them loads.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import simulator_peers as peers  # noqa: E402

LAYERS = 4  # the default model's blocks (= layers: one layer per block)
SGEMM = 1024
BURST_S = 0.1  # seconds of consecutive steps per simulator per round (see Clock)
NOISE = {"depolarizing": 0.01, "t1": 50.0, "t2": 40.0}  # gate times: the config defaults


# ---------------------------------------------------------------------------- timing
class Clock:
    """Round-robin timing. Each round gives every simulator one *burst*: consecutive steps until
    ``BURST_S`` seconds (at least one step), timed as a whole, so each runs warm as it does in
    training, where steps follow each other (a single step timed straight after another
    simulator's pays for that one's cache and TLB footprint: it penalised the fastest step most,
    ~1.6x at n = 8, batch 32). Every round also times one SGEMM, so the peak is measured under
    the same load as the steps."""

    def __init__(self) -> None:
        self.a, self.b = torch.randn(SGEMM, SGEMM), torch.randn(SGEMM, SGEMM)
        self.sgemm: list[float] = []

    def _matmul(self) -> None:
        t = time.perf_counter()
        self.a @ self.b
        self.sgemm.append(time.perf_counter() - t)

    def run(self, fns: dict[str, Callable[[], object]], reps: int, budget: float):
        """Median seconds per step (each round's burst mean) of each fn; a fn stops repeating
        once it has spent ``budget`` seconds (after at least one round). Returns (medians,
        rounds)."""
        times: dict[str, list[float]] = {k: [] for k in fns}
        spent = dict.fromkeys(fns, 0.0)
        names = list(fns)
        for r in range(reps):
            self._matmul()
            for k in names[r % len(names) :] + names[: r % len(names)]:
                if times[k] and spent[k] > budget:
                    continue
                steps, t = 0, time.perf_counter()
                while True:
                    fns[k]()
                    steps += 1
                    elapsed = time.perf_counter() - t
                    if elapsed >= BURST_S:
                        break
                times[k].append(elapsed / steps)
                spent[k] += elapsed
        return {k: statistics.median(v) for k, v in times.items()}, {
            k: len(v) for k, v in times.items()
        }

    def peak_gflops(self) -> float:
        return 2 * SGEMM**3 / statistics.median(self.sgemm) / 1e9


def useful_flops(n: int, batch: int) -> float:
    """21 n 2^n per layer per sample forward (n U3s on every amplitude pair, n CU3s on half),
    x3 with the backward."""
    return 3 * 21 * n * 2**n * LAYERS * batch


def data(n: int, batch: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed + 1000 * n + batch)
    return torch.rand(batch, 2**n, generator=gen), torch.randint(0, 10, (batch,), generator=gen)


def max_diff(check, ref) -> tuple[float, float]:
    feats, (gu, gc) = check
    rfeats, (ru, rc) = ref
    f = max(float((a - b).abs().max()) for a, b in zip(feats, rfeats, strict=True))
    g = max(float((gu - ru).abs().max()), float((gc - rc).abs().max()))
    return f, g


# ---------------------------------------------------------------------------- statevector rows
def statevector_rows(args, clock: Clock) -> list[dict]:
    rows = []
    slow: dict[str, tuple[int, int, float]] = {}  # peer -> a cell whose step took > skip_after
    for n in args.sizes:
        for batch in args.batches:
            x, y = data(n, batch)
            ours = peers.ours(n, x, y)
            ref = ours.check()  # also a warm-up step
            fns = {"ours": ours.step}
            cells = {"ours": {"label": ours.label, "diff": None}}
            for name in args.peers:
                why = peers.unavailable(name)
                if why:
                    rows.append(_note_row(n, batch, f"{name}: {why}"))
                    continue
                if name in slow and slow[name][0] <= n and slow[name][1] <= batch:
                    n0, b0, s0 = slow[name]
                    rows.append(
                        _note_row(
                            n,
                            batch,
                            f"{name}: skipped, its step took {s0:.0f} s at the smaller cell "
                            f"n = {n0}, batch {b0} (> --skip-after {args.skip_after:g} s)",
                        )
                    )
                    continue
                t0 = time.perf_counter()
                try:
                    peer = peers.PEERS[name][1](ours.model, x, y)
                    t1 = time.perf_counter()
                    check = peer.check()  # first step: compiles (jit) and checks
                    first = time.perf_counter() - t1
                    diff = max_diff(check, ref)
                except Exception as exc:  # a peer's failure is a row, not the end of the run
                    rows.append(
                        _note_row(n, batch, f"{name}: failed ({type(exc).__name__}: {exc})")
                    )
                    continue
                cells[name] = {"label": peer.label, "diff": diff, "setup": t1 - t0 + first}
                if first > args.max_step:  # too slow to repeat: one more step, timed alone
                    t1 = time.perf_counter()
                    peer.step()
                    cells[name]["single"] = time.perf_counter() - t1
                    if cells[name]["single"] > args.skip_after:
                        slow[name] = (n, batch, cells[name]["single"])
                else:
                    fns[name] = peer.step
            med, count = clock.run(fns, args.reps, args.budget)
            for name, cell in cells.items():
                single = cell.get("single")
                seconds = single if single is not None else med[name]
                rows.append(
                    {
                        "n": n,
                        "batch": batch,
                        "name": name,
                        "label": cell["label"],
                        "s": seconds,
                        "ratio": None if name == "ours" else seconds / med["ours"],
                        "flops": useful_flops(n, batch) / seconds,
                        "diff": cell["diff"],
                        "reps": "1 (alone, not interleaved)" if single else count[name],
                        "setup": cell.get("setup"),
                    }
                )
                print(_row_text(rows[-1], clock.peak_gflops()), flush=True)
            del ours
    return rows


def _note_row(n: int, batch: int, text: str) -> dict:
    print(f"| {n} | {batch} | {text} |", flush=True)
    return {"n": n, "batch": batch, "note": text}


def _row_text(r: dict, peak: float) -> str:
    if "note" in r:
        return f"| {r['n']} | {r['batch']} | {r['note']} | | | | | | | |"
    ratio = "—" if r["ratio"] is None else f"**{r['ratio']:.1f}x**"
    gf = r["flops"] / 1e9
    diff = "reference" if r["diff"] is None else f"{r['diff'][0]:.1e} / {r['diff'][1]:.1e}"
    setup = f"{r['setup']:.1f}" if r.get("setup") is not None else ""
    return (
        f"| {r['n']} | {r['batch']} | {r['label']} | {1e3 * r['s']:.1f} | "
        f"{r['batch'] / r['s']:.0f} | {ratio} | {gf:.2f} ({100 * gf / peak:.1f}%) | {diff} | "
        f"{r['reps']} | {setup} |"
    )


# ---------------------------------------------------------------------------- noisy rows
def noise_text() -> str:
    return (
        f"depolarizing {NOISE['depolarizing']}, T1 {NOISE['t1']} us, T2 {NOISE['t2']} us, "
        "gate times 0.05 / 0.3 us"
    )


def density_rows(args, clock: Clock) -> list[str]:
    out = []
    batch = 32
    for n in args.density_sizes:
        x, y = data(n, batch)
        ours = peers.ours(n, x, y, noise_method="density", **NOISE)
        ref = ours.check()
        pl_model = peers.default_model(n, backend="pennylane", device="default.mixed", **NOISE)
        pl_model.load_state_dict(ours.model.state_dict())
        pl = peers.TorchModelPeer(
            pl_model, x, y, f"{peers.distribution('pennylane')} default.mixed (backprop, snapshots)"
        )
        f, g = max_diff(pl.check(), ref)
        med, count = clock.run({"ours": ours.step, "pl": pl.step}, args.reps, args.budget)
        for name, label, d in (("ours", "dqfl torch density matrices", "reference"),
                               ("pl", pl.label, f"{f:.1e} / {g:.1e}")):  # fmt: skip
            ratio = "—" if name == "ours" else f"**{med['pl'] / med['ours']:.1f}x**"
            out.append(
                f"| {n} | {batch} | {label} | {1e3 * med[name]:.1f} | {batch / med[name]:.0f} | "
                f"{ratio} | {d} | {count[name]} |"
            )
            print(out[-1], flush=True)
    return out


def trajectory_rows(args, clock: Clock) -> tuple[list[str], list[str]]:
    """Cost and loss error of the trajectory path at each trajectory count."""
    rows, advice = [], []
    batch = 32
    for n in args.trajectory_sizes:
        x, y = data(n, batch)
        clean = peers.ours(n, x, y)
        clean.check()
        counts = tuple(t for t in args.trajectories if n < 10 or t <= 16)
        models = {
            t: peers.ours(n, x, y, noise_method="trajectories", n_trajectories=t, **NOISE)
            for t in counts
        }
        for m in models.values():
            m.model.load_state_dict(clean.model.state_dict())
            m.step()  # warm-up
        med, _ = clock.run(
            {"clean": clean.step} | {t: m.step for t, m in models.items()}, args.reps, args.budget
        )
        exact = None
        if n <= 8:  # the exact noisy loss (density matrices), to show the estimator's bias
            dens = peers.ours(n, x, y, noise_method="density", **NOISE)
            dens.model.load_state_dict(clean.model.state_dict())
            exact = dens.loss()
        se_batch = _batch_se(models[max(counts)])
        stats = {}
        for t, m in models.items():
            draws = [m.loss() for _ in range(args.draws)]
            stats[t] = (statistics.mean(draws), statistics.stdev(draws), med[t] / med["clean"])
        # One trajectory's spread, pooled over the counts (SE_T = sigma_1 / sqrt(T)): steadier
        # than any single count's standard deviation over a few draws.
        sigma1 = statistics.mean(t * se**2 for t, (_, se, _) in stats.items()) ** 0.5
        for t, (mean, se, cost) in stats.items():
            bias = "" if exact is None else f"{mean - exact:+.4f}"
            rows.append(
                f"| {n} | {batch} | {t} | {1e3 * med[t]:.1f} | {cost:.1f}x | {mean:.4f} | "
                f"{se:.4f} | {sigma1 / t**0.5:.4f} | {bias} | {sigma1 / t**0.5 / se_batch:.2f} |"
            )
            print(rows[-1], flush=True)
        need = max(1, math.ceil((2 * sigma1 / se_batch) ** 2))  # SE <= half the batch's SE
        t_rec = 2 ** math.ceil(math.log2(need))
        ts = sorted(stats)
        if t_rec in stats:
            cost, how = stats[t_rec][2], "measured"
        elif t_rec < ts[-1]:  # between two measured counts (or below the first): interpolate
            lo = max([t for t in ts if t < t_rec], default=ts[0])
            hi = min(t for t in ts if t > t_rec)
            w = 0.0 if hi == lo else (t_rec - lo) / (hi - lo)
            cost = stats[lo][2] + w * (stats[hi][2] - stats[lo][2])
            how = f"interpolated between {lo} and {hi}" if hi > lo else f"at most that of {lo}"
        else:
            cost, how = stats[ts[-1]][2] * t_rec / ts[-1], f"extrapolated linearly from {ts[-1]}"
        advice.append(
            f"n = {n}: **{t_rec} trajectories**. One trajectory's loss spread is "
            f"sigma_1 = {sigma1:.4f}, so T trajectories give a standard error sigma_1/sqrt(T); "
            f"T >= {need} keeps it at most half the mini-batch standard error of the loss "
            f"({se_batch:.4f} at batch {batch}), i.e. trajectory noise adds at most a quarter "
            f"to the variance SGD already lives with. A step then costs {cost:.0f}x the "
            f"noiseless step ({how}; the issue's target at n = 8 is 10x)."
        )
    return rows, advice


def trajectory_table(args, traj: list[str], advice: list[str]) -> list[str]:
    """The trajectory rows with their header and the recommended counts."""
    return [
        "Trajectories (ours: each trajectory's Kraus draws shared by the batch, run on the "
        "adjoint path), same noise; loss = the all-exit loss of one batch, its mean and "
        f"standard deviation over {args.draws} independent trajectory draws (= the standard "
        "error of the loss estimate at that count), and sigma_1/sqrt(T) with sigma_1 pooled "
        "over the counts; bias = mean minus the exact density-matrix loss (n <= 8); last "
        "column = the fitted standard error over the mini-batch standard error of the loss:",
        "",
        "| n | batch | trajectories T | ms/step | cost vs noiseless step | loss | "
        "standard error (measured) | standard error (pooled fit) | bias "
        "| fit / mini-batch SE |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *traj,
        "",
        *[f"- {a}" for a in advice],
    ]


def _batch_se(peer) -> float:
    """Standard error of the batch-mean loss over the samples (its mini-batch noise)."""
    import torch.nn.functional as F

    with torch.no_grad():
        logits = peer.model(peer.x)
        per = torch.stack([F.cross_entropy(z, peer.y, reduction="none") for z in logits]).mean(0)
    return float(per.std() / len(per) ** 0.5)


# ---------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: tuple(int(v) for v in s.split(",") if v)  # noqa: E731
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (< ~1 min)")
    ap.add_argument("--sizes", type=ints, help="qubit counts (default 6,8,10,12)")
    ap.add_argument("--batches", type=ints, help="batch sizes (default 32,128)")
    ap.add_argument("--reps", type=int, help="interleaved repetitions (default 5)")
    ap.add_argument(
        "--peers",
        type=lambda s: tuple(v for v in s.split(",") if v),
        help=f"simulators next to ours (default all: {','.join(peers.PEERS)})",
    )
    ap.add_argument("--budget", type=float, default=15.0, help="seconds per simulator and cell")
    ap.add_argument(
        "--max-step", type=float, default=5.0, help="slower first steps are not repeated"
    )
    ap.add_argument(
        "--skip-after",
        type=float,
        default=20.0,
        help="a simulator whose step took longer skips the larger cells",
    )
    ap.add_argument("--no-noise", action="store_true", help="skip the noisy rows")
    ap.add_argument(
        "--trajectories-only",
        action="store_true",
        help="only the trajectory rows (their cost against the noiseless step measured with them)",
    )
    ap.add_argument("--out", type=Path, help="also write the tables as Markdown here")
    args = ap.parse_args(argv)
    quick = args.quick
    args.sizes = args.sizes or ((6, 8) if quick else (6, 8, 10, 12))
    args.batches = args.batches or ((32,) if quick else (32, 128))
    args.reps = args.reps or (3 if quick else 5)
    args.peers = args.peers or (
        ("pennylane", "qulacs", "torchquantum") if quick else tuple(peers.PEERS)
    )
    unknown = [p for p in args.peers if p not in peers.PEERS]
    if unknown:
        ap.error(f"unknown peers {unknown}; choose from {', '.join(peers.PEERS)}")
    args.density_sizes = (4,) if quick else (4, 6)
    args.trajectory_sizes = (8,) if quick else (8, 10)
    args.trajectories = (4, 16) if quick else (4, 8, 16, 32)  # n = 10 stops at 16: its cost
    args.draws = 4 if quick else 8
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    t_start = time.perf_counter()
    clock = Clock()
    head = (
        f"torch {torch.__version__}, {torch.get_num_threads()} thread "
        f"(OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}), Python {platform.python_version()}, "
        f"{platform.processor() or platform.machine()}"
    )
    print(head, flush=True)
    if args.trajectories_only:
        traj, advice = trajectory_rows(args, clock)
        lines = [f"Noisy step: {noise_text()}.", "", *trajectory_table(args, traj, advice)]
        lines += ["", f"{head}; trajectory rows {time.perf_counter() - t_start:.0f} s."]
        emit(lines, args.out)
        return
    rows = statevector_rows(args, clock)
    peak = clock.peak_gflops()
    lines = [
        "Training step of the default model (forward through the 4 exits + all-exit loss + "
        "backward; no optimiser step), 1 CPU thread; simulators take turns in rounds, each "
        f"round a {BURST_S:g} s burst of consecutive steps per simulator; medians over rounds:",
        "",
        "| n | batch | simulator and configuration | ms/step | samples/s | peer time / ours "
        "| useful GFLOP/s (% of sgemm peak) | max abs diff vs ours: features / angle grads "
        "| rounds | setup+first step s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(_row_text(r, peak) for r in rows),
        "",
        f"Useful FLOPs = 3 x 21 n 2^n per layer per sample (forward 21 n 2^n, backward 2x); "
        f"peak = median single-thread float32 {SGEMM}x{SGEMM} matmul in this run, "
        f"{peak:.1f} GFLOP/s ({len(clock.sgemm)} interleaved samples). 'peer time / ours' > 1: "
        "ours is that many times faster. Features = each exit's <Z_i>, <Z_i Z_j>.",
    ]
    note = peers.original_torchquantum_note()
    if note and "torchquantum" in args.peers:
        lines.append(f"torchquantum (original): {note}.")
    if not args.no_noise:
        print("\nnoisy rows", flush=True)
        dens = density_rows(args, clock)
        traj, advice = trajectory_rows(args, clock)
        lines += [
            "",
            f"Noisy step ({noise_text()}), exact density matrices:",
            "",
            "| n | batch | simulator | ms/step | samples/s | peer time / ours "
            "| max abs diff: features / angle grads | rounds |",
            "|---|---|---|---|---|---|---|---|",
            *dens,
            "",
            *trajectory_table(args, traj, advice),
        ]
    lines += ["", f"{head}; whole benchmark {time.perf_counter() - t_start:.0f} s."]
    emit(lines, args.out)


def emit(lines: list[str], out: Path | None) -> None:
    """Print the tables, and write them as Markdown to ``out`` when given."""
    text = "\n".join(lines)
    print("\n" + text)
    if out:
        out.write_text(text + "\n")
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
