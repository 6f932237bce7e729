"""Training-step throughput of the DQNN simulators, side by side in one process.

Forward + backward of the all-exit loss (mean cross-entropy over the L exits), batch 64, L=4:
the torch backend against PennyLane ``default.qubit`` as a skilled user runs it (one QNode per
forward, backprop, parameter broadcasting, ``qml.Snapshot`` probabilities for the earlier exits:
exactly the ``backend="pennylane"`` reference) and TorchQuantum if it imports; then the
exact noisy path (torch density matrices vs PennyLane ``default.mixed``). Also estimates the
FLOPs of the torch algorithm and compares with the measured peak of a large float32 matmul.
Prints a Markdown table. Timings are medians of interleaved repeats; on a shared machine read
the ratios, not the absolute numbers.

    python experiments/bench_simulator.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from dqfl.quantum import DQNN
from dqfl.quantum.noise import NoiseModel

BATCH, LAYERS, CLASSES = 64, 4, 10


def step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    def step() -> None:
        model.zero_grad(set_to_none=True)
        logits = model(x)
        loss = sum(F.cross_entropy(z, y) for z in logits) / len(logits)
        loss.backward()

    return step


def timed(fns: dict[str, object], reps: int, min_time: float = 0.0) -> dict[str, float]:
    """Median seconds per call of each fn, interleaving the candidates to share the noise."""
    for f in fns.values():
        f()  # warm-up
    out = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            out[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in out.items()}


def matmul_peak_gflops(size: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def torch_flops(n: int, simulator: str) -> float:
    """Floating-point operations of one forward+backward step (backward ~ 2x forward)."""
    d, b = 2**n, BATCH
    if simulator == "dense":
        fwd = 2 * b * d * (2 * d) + (LAYERS - 1) * 2 * b * (2 * d) * (2 * d)
        fwd += LAYERS * 8 * n * d * d  # building the unitaries (CU3 on half the rows)
    else:  # fused: blocks of 2**(h+1) and 2**(n-h) on the state, wrap CU3 on half of it
        h = n // 2
        per_layer = 8 * b * d * (2 ** (h + 1) + 2 ** (n - h)) + 8 * b * d
        fwd = LAYERS * per_layer
    return 3.0 * fwd


def torchquantum_step(n: int, x: torch.Tensor, y: torch.Tensor):
    import torchquantum as tq  # noqa: F401  (import errors are reported by the caller)
    import torchquantum.functional as tqf

    params = torch.nn.Parameter(torch.rand(LAYERS, 2, n, 3))
    readout = torch.nn.Parameter(torch.zeros(LAYERS, CLASSES))
    xs = x / x.norm(dim=1, keepdim=True)

    def step() -> None:
        qdev = tq.QuantumDevice(n_wires=n, bsz=x.shape[0])
        qdev.set_states(xs.to(torch.complex64).reshape(x.shape[0], *([2] * n)))
        loss = 0.0
        for layer in range(LAYERS):
            for i in range(n):
                tqf.u3(qdev, wires=i, params=params[layer, 0, i].unsqueeze(0))
            for i in range(n):
                tqf.cu3(qdev, wires=[i, (i + 1) % n], params=params[layer, 1, i].unsqueeze(0))
            p = qdev.get_states_1d().abs() ** 2
            groups = torch.zeros(2**n, CLASSES)
            groups[torch.arange(2**n), torch.arange(2**n) % CLASSES] = 1
            loss = loss + F.cross_entropy(torch.log(p @ groups + 1e-6) + readout[layer], y)
        loss.backward()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: stable on a shared CPU; 0: leave as is)",
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    reps = 3 if args.quick else 7
    sizes = (6, 8) if args.quick else (6, 8, 10)
    gen = torch.Generator().manual_seed(0)
    peak = matmul_peak_gflops()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"float32 matmul peak {peak:.1f} GFLOP/s\n"
    )

    tq_note = ""
    try:
        import torchquantum  # noqa: F401
    except Exception as exc:  # broken optional dependency: report, do not fail
        tq_note = f"TorchQuantum unavailable ({type(exc).__name__}: {exc})"
        print(tq_note + "\n")

    rows = []
    for n in sizes:
        x = torch.rand(BATCH, 2**n, generator=gen)
        y = torch.randint(0, CLASSES, (BATCH,), generator=gen)
        fast = DQNN(n, LAYERS, CLASSES)
        ref = DQNN(n, LAYERS, CLASSES, backend="pennylane")
        ref.load_state_dict(fast.state_dict())
        fns = {"torch": step_fn(fast, x, y), "pennylane": step_fn(ref, x, y)}
        if not tq_note:
            fns["torchquantum"] = torchquantum_step(n, x, y)
        t = timed(fns, reps if n < 10 else max(2, reps // 2))
        sim = "dense" if n <= 6 else "fused"
        gflops = torch_flops(n, sim) / t["torch"] / 1e9
        rows.append(
            (
                f"statevector n={n}",
                f"torch ({sim})",
                BATCH / t["torch"],
                BATCH / t["pennylane"],
                t["pennylane"] / t["torch"],
                (
                    f"{BATCH / t['torchquantum']:.0f} ({t['torchquantum'] / t['torch']:.1f}x)"
                    if "torchquantum" in t
                    else "n/a"
                ),
                f"{gflops:.2f} GF/s = {100 * gflops / peak:.1f}%",
            )
        )
        print(rows[-1], flush=True)

    noise = NoiseModel(depolarizing=0.01, t1=50.0, t2=40.0, gate_time_1q=0.05, gate_time_2q=0.3)
    for n in (4,) if args.quick else (4, 6):
        x = torch.rand(BATCH, 2**n, generator=gen)
        y = torch.randint(0, CLASSES, (BATCH,), generator=gen)
        fast = DQNN(n, LAYERS, CLASSES, noise=noise, noise_method="density")
        ref = DQNN(n, LAYERS, CLASSES, noise=noise, backend="pennylane", device="default.mixed")
        ref.load_state_dict(fast.state_dict())
        t = timed({"torch": step_fn(fast, x, y), "pennylane": step_fn(ref, x, y)}, reps)
        rows.append(
            (
                f"density n={n}",
                "torch density",
                BATCH / t["torch"],
                BATCH / t["pennylane"],
                t["pennylane"] / t["torch"],
                "n/a",
                "",
            )
        )
        print(rows[-1], flush=True)

    print("\nTraining step (forward + backward, all-exit loss), batch 64, L=4, 10 classes:\n")
    print(
        "| circuit | ours | ours samples/s | PennyLane samples/s | speed-up "
        "| TorchQuantum samples/s | ours vs fp32 matmul peak |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, ours, a, b, r, tq, f in rows:
        print(f"| {name} | {ours} | {a:.0f} | {b:.0f} | {r:.1f}x | {tq} | {f} |")
    if tq_note:
        print(f"\n{tq_note}")
    print(
        "PennyLane: default.qubit (backprop, broadcasting) for statevector rows, default.mixed "
        "(backprop) for density rows; one QNode per forward, snapshots for the earlier exits."
    )


if __name__ == "__main__":
    main()
