"""Per-step time of ``train_local`` on vehicle 0 of the default run: the per-step loop against
the compiled whole-epoch path, interleaved in one process (medians).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python experiments/ab_train_local.py [--qubits 10] [--reps 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dqfl.config import RunConfig
from dqfl.federation import common
from dqfl.training import train_local


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qubits", type=int, default=None, help="model.n_qubits (default: the run's)")
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = RunConfig()
    if args.qubits is not None:
        cfg.model.n_qubits = args.qubits
    fed = cfg.federation
    x, y = common.partition(cfg, 0)
    model = common.build(cfg, placed=True)
    steps = fed.local_epochs * -(-len(x) // fed.batch_size)
    times: dict[bool, list[float]] = {False: [], True: []}
    for rep in range(args.reps + 1):  # the first round warms up (compiles, caches)
        for compiled in (False, True):
            start = time.perf_counter()
            train_local(
                model,
                x,
                y,
                epochs=fed.local_epochs,
                batch_size=fed.batch_size,
                lr=fed.lr,
                seed=rep,
                distill=fed.distill,
                compiled_epochs=compiled,
            )
            if rep:
                times[compiled].append((time.perf_counter() - start) / steps * 1e3)
    old, new = (statistics.median(times[c]) for c in (False, True))
    print(f"n={cfg.model.n_qubits} crops={len(x)} steps={steps}")
    print(f"per-step loop   {old:.3f} ms/step (median of {args.reps})")
    print(f"compiled epochs {new:.3f} ms/step ({old / new:.2f}x)")


if __name__ == "__main__":
    main()
