"""GPU numbers of the simulator: the default model's training step on CUDA vs the CPU, and a short
federation with ``model.torch_device = "cuda"`` vs ``"cpu"``. Needs a CUDA GPU; on a machine
without one it says so and exits with status 2.

The end-to-end row runs ``dqfl run`` with ``--method`` (default ``dqfl``: Flower's simulation
engine, so Flower and Ray must import). ``--method centralized`` trains the centralised baseline
instead, which needs neither: the way to an end-to-end GPU figure on a machine whose Python has
torch but no Ray.

Step = forward through every exit + all-exit cross-entropy + backward, no optimiser step (the
same workload as ``bench_simulator.py``), ours built through ``dqfl.quantum.build_model`` and
moved to the device; the CUDA outputs and angle gradients are checked against the CPU's first.
The CPU rows use torch's default thread count on this machine (printed). PennyLane
lightning.gpu (adjoint, one QNode per exit; ``simulator_peers.LightningPeer``) runs at the
smallest batch when it imports.

    python experiments/bench_gpu.py [--sizes 8,10,12,14] [--batches 128,512,1024] [--reps 5]
        [--rounds 2] [--method dqfl|qfl|classical|centralized] [--no-federation] [--out F.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fns: dict[str, Callable[[], None]], reps: int, budget: float) -> dict[str, float]:
    """Median seconds per call, interleaved; CUDA work is synchronised inside each timing."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            if times[k] and sum(times[k]) > budget:
                continue
            _sync()
            t = time.perf_counter()
            f()
            _sync()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def max_diff(a, b) -> float:
    (fa, (ua, ca)), (fb, (ub, cb)) = a, b
    f = max(float((x - y).abs().max()) for x, y in zip(fa, fb, strict=True))
    return max(f, float((ua - ub).abs().max()), float((ca - cb).abs().max()))


def step_rows(args) -> list[str]:
    import simulator_peers as peers  # after the GPU check: it loads the simulators

    rows = []
    lightning = peers.unavailable("lightning")
    for n in args.sizes:
        for batch in args.batches:
            gen = torch.Generator().manual_seed(n * 1000 + batch)
            x = torch.rand(batch, 2**n, generator=gen)
            y = torch.randint(0, 10, (batch,), generator=gen)
            cpu = peers.ours(n, x, y)
            ref = cpu.check()
            model = peers.default_model(n)
            model.load_state_dict(cpu.model.state_dict())
            dev = args.device
            gpu = peers.TorchModelPeer(model.to(dev), x.to(dev), y.to(dev), dev)
            diff = max_diff(gpu.check(), ref)
            fns = {"cpu": cpu.step, "cuda": gpu.step}
            note = ""
            if not lightning and batch == min(args.batches) and n <= args.lightning_max_n:
                try:
                    lg = peers.LightningPeer(cpu.model, x, y, device="lightning.gpu")
                    lg_diff = max_diff(lg.check(), ref)
                    fns["lightning.gpu"] = lg.step
                except Exception as exc:  # report, keep going
                    note = f"lightning.gpu failed: {type(exc).__name__}: {exc}"
            med = timed(fns, args.reps, args.budget)
            lg_cell = note or "not run (imports: %s)" % ("no" if lightning else "yes")
            if "lightning.gpu" in med:
                lg_cell = (
                    f"{batch / med['lightning.gpu']:.0f} samples/s "
                    f"(ours cuda {med['lightning.gpu'] / med['cuda']:.1f}x faster; diff "
                    f"{lg_diff:.1e})"
                )
            rows.append(
                f"| {n} | {batch} | {batch / med['cpu']:.0f} | {batch / med['cuda']:.0f} | "
                f"{1e3 * med['cuda']:.2f} | **{med['cpu'] / med['cuda']:.1f}x** | {diff:.1e} | "
                f"{lg_cell} |"
            )
            print(rows[-1], flush=True)
            del cpu, gpu
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    return rows


def federation_rows(args) -> list[str]:
    """Wall time of one short `dqfl run` per device (the real CLI, default config, ``--method``)."""
    rows = []
    from dqfl.config import load_config
    from dqfl.federation import common

    t = time.perf_counter()  # the data cache is built once, outside the timed runs
    cfg = load_config(None, [])
    for v in range(cfg.data.n_vehicles):
        common.partition(cfg, v)
    common.test_set(cfg)
    common.novel_set(cfg)
    print(f"data cache ready in {time.perf_counter() - t:.0f} s", flush=True)

    def command(device: str, out: Path) -> list[str]:
        return [
            sys.executable, "-m", "dqfl", "run",
            "--set", f"model.torch_device={device}",
            "--set", f"federation.rounds={args.rounds}",
            "--set", f"federation.method={args.method}",
            "--out", str(out),
        ]  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        # untimed: a process's first run pays one-time costs (files into the page cache, the
        # kernels' first load) that would otherwise fall on whichever device is timed first
        t = time.perf_counter()
        subprocess.run(command("cpu", Path(tmp) / "warm-up"), cwd=ROOT, capture_output=True)
        print(f"untimed warm-up run in {time.perf_counter() - t:.0f} s", flush=True)
        for device in ("cpu", args.device):
            out = Path(tmp) / device
            cmd = command(device, out)
            t = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
                rows.append(f"| {device} | failed (exit {done.returncode}): {' '.join(tail)} | | |")
            else:
                summary = json.loads((out / "summary.json").read_text())
                top1 = ", ".join(f"{100 * a:.1f}" for a in summary.get("top1", []))
                rows.append(f"| {device} | {wall:.1f} | {top1} | {' '.join(cmd[3:-2])} |")
            print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    ints = lambda s: tuple(int(v) for v in s.split(",") if v)  # noqa: E731
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=ints, default=(8, 10, 12, 14))
    ap.add_argument("--batches", type=ints, default=(128, 512, 1024))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per device and cell")
    ap.add_argument("--lightning-max-n", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of the short federation")
    ap.add_argument(
        "--method", default="dqfl", help="federation.method of the end-to-end row (default dqfl)"
    )
    ap.add_argument("--no-federation", action="store_true", help="skip the end-to-end row")
    ap.add_argument("--out", type=Path, help="also write the tables as Markdown here")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N; cpu = a dry run without a GPU")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            "error: bench_gpu.py needs a CUDA GPU and torch sees none on this machine "
            f"(torch {torch.__version__}); experiments/bench_simulator.py measures the CPU",
            file=sys.stderr,
        )
        sys.exit(2)
    t0 = time.perf_counter()
    name = torch.cuda.get_device_name(args.device) if args.device != "cpu" else "cpu (dry run)"
    head = (
        f"{name}, torch {torch.__version__}, CUDA {torch.version.cuda}; "
        f"CPU rows with {torch.get_num_threads()} torch threads"
    )
    print(head, flush=True)
    lines = [
        "Training step of the default model (forward + all-exit loss + backward, no optimiser "
        "step), ours on CUDA vs ours on the CPU; medians of interleaved repeats:",
        "",
        f"| n | batch | cpu samples/s | {args.device} samples/s | {args.device} ms/step "
        f"| {args.device} vs cpu | max abs diff {args.device} vs cpu | PennyLane lightning.gpu |",
        "|---|---|---|---|---|---|---|---|",
        *step_rows(args),
    ]
    if not args.no_federation:
        lines += [
            "",
            f"A short `dqfl run` (default config, federation.method={args.method}, "
            f"{args.rounds} rounds), wall time:",
            "",
            "| model.torch_device | wall s | final top-1 per exit % | settings |",
            "|---|---|---|---|",
            *federation_rows(args),
        ]
    lines += ["", f"{head}; {time.perf_counter() - t0:.0f} s in all."]
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
