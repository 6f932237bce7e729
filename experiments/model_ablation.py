"""The README's model ablation: one row per setting, each a ``centralized_exits.py`` command.

Runs every row (two seeds each by default) one after another and prints a Markdown table of
held-out top-1 per exit (mean ± half-range over the seeds) with the command that reproduces it.
About 2 minutes per row and seed on one CPU thread.

    python experiments/model_ablation.py [--seeds 0,1] [--only 0,3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("centralized_exits.py")
DEFAULT = "--set observables=z_zz_all"
ROWS: list[tuple[str, str]] = [
    ("**default**: shared map, <Z> + all <ZZ>, 1 layer/block, cosine, 1000 crops/vehicle", DEFAULT),
    ("readout: <Z> only (the previous default)", "--set observables=z"),
    ("readout: <Z> + ring <ZZ>", "--set observables=z_zz_ring"),
    ("readout: a full map per exit (linear), all <ZZ>", DEFAULT + " --set readout=linear"),
    ("2 layers per block", DEFAULT + " --set layers_per_block=2"),
    ("constant learning rate", DEFAULT + " --schedule constant"),
    ("200 crops per vehicle (the previous default)", DEFAULT + " --samples-per-vehicle 200"),
    ("distillation 0.1", DEFAULT + " --distill 0.1"),
    ("distillation 0.3", DEFAULT + " --distill 0.3"),
    ("exit weights 1,2,3,4", DEFAULT + " --exit-weights 1,2,3,4"),
    (
        "beyond quadratic: pooled-pixel RYs re-uploaded before every layer after the first",
        DEFAULT + " --set reupload=true",
    ),
    (
        "previous model and training: <Z>, constant lr, 200 crops/vehicle, 10 epochs",
        "--set observables=z --schedule constant --samples-per-vehicle 200 --epochs 10",
    ),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--only", default="", help="comma-separated row numbers (default: all)")
    args = ap.parse_args()
    rows = list(enumerate(ROWS))
    if args.only:
        keep = {int(i) for i in args.only.split(",")}
        rows = [r for r in rows if r[0] in keep]
    table = []
    for i, (label, flags) in rows:
        cmd = f"python experiments/centralized_exits.py --seeds {args.seeds} {flags}"
        print(f"[{i}] {label}\n    {cmd}", flush=True)
        out = subprocess.run(
            [sys.executable, str(SCRIPT), "--seeds", args.seeds, *flags.split()],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cells = out.strip().splitlines()[-1].split("|")[2:-1]
        print("    " + " | ".join(c.strip() for c in cells), flush=True)
        table.append(f"| {label} | " + " | ".join(c.strip() for c in cells) + f" | `{cmd}` |")
    print("\n| setting | exit 1 | exit 2 | exit 3 | exit 4 | command |")
    print("|---|---|---|---|---|---|")
    print("\n".join(table))


if __name__ == "__main__":
    main()
