"""Does a model trained only on synthetic plates hold up on fonts and cameras it never saw?

Trains the default model centrally (``federation.method=centralized``: the pooled vehicles'
data, the default rounds x local epochs) for each seed and prints top-1 per exit on the
in-distribution held-out set and on the novel held-out set (typefaces and camera conditions no
training region uses; see ``dqfl.data.regions.novel_styles``). Target: the novel set within 10
points of the in-distribution set. Two diagnostic sets split the gap: the novel typefaces under the
training regions' conditions, and the training typefaces under the novel conditions.

    python experiments/novel_gap.py [--seeds 0 1] [--set federation.rounds=5 ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    from dqfl.config import load_config
    from dqfl.federation.centralized import run_centralized

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="key=value")
    ap.add_argument("--out", type=Path, default=None, help="keep the run folders here")
    args = ap.parse_args()

    out_root = args.out or Path(tempfile.mkdtemp(prefix="novel_gap-"))
    held, novel, fonts_only, conditions_only = [], [], [], []
    for seed in args.seeds:
        cfg = load_config(None, ["federation.method=centralized", f"seed={seed}", *args.overrides])
        t0 = time.perf_counter()
        summary = run_centralized(cfg, out_root / f"seed-{seed}")
        held.append(summary["top1"])
        novel.append(summary["novel_top1"])
        fonts, conditions = diagnostic_scores(cfg, out_root / f"seed-{seed}")
        fonts_only.append(fonts)
        conditions_only.append(conditions)
        print(
            f"seed {seed} ({time.perf_counter() - t0:.0f} s): held-out "
            + " ".join(f"{100 * a:.1f}" for a in held[-1])
            + " | novel "
            + " ".join(f"{100 * a:.1f}" for a in novel[-1])
        )

    n_exits = len(held[0])

    def mean(rows: list[list[float]], i: int) -> float:
        return 100 * statistics.fmean(r[i] for r in rows)

    print(f"\ntop-1 % per exit, mean of seeds {args.seeds}")
    print("| set | " + " | ".join(f"exit {i + 1}" for i in range(n_exits)) + " |")
    print("|---|" + "---:|" * n_exits)
    rows = (
        ("in-distribution held-out", held),
        ("novel fonts + conditions", novel),
        ("novel fonts, training conditions", fonts_only),
        ("training fonts, novel conditions", conditions_only),
    )
    for label, accs in rows:
        print(f"| {label} | " + " | ".join(f"{mean(accs, i):.1f}" for i in range(n_exits)) + " |")
    gaps = [mean(held, i) - mean(novel, i) for i in range(n_exits)]
    print("| gap (points) | " + " | ".join(f"{g:.1f}" for g in gaps) + " |")
    worst = max(gaps)
    verdict = "met" if worst <= 10 else "not met"
    print(f"\nlargest gap {worst:.1f} points (target <= 10: {verdict}); runs in {out_root}")


def diagnostic_scores(cfg, run_dir: Path) -> tuple[list[float], list[float]]:
    """Top-1 per exit of the run's model on (novel fonts, training conditions) and (training
    fonts, novel conditions), rendered on the novel set's seed stream."""
    from dataclasses import replace

    import torch

    from dqfl.data.fonts import builtin_fonts, novel_fonts
    from dqfl.data.regions import novel_styles, region_styles
    from dqfl.data.seeds import novel_rng
    from dqfl.data.synthetic import render_balanced
    from dqfl.federation.common import build
    from dqfl.training import evaluate

    model = build(cfg)
    model.load_state_dict(torch.load(run_dir / "model.pt", weights_only=True)["state_dict"])
    dcfg = replace(cfg.data_config(), cache_dir="")
    new_fonts, train_fonts = tuple(novel_fonts().values()), tuple(builtin_fonts().values())
    out = []
    for styles in (
        [replace(s, fonts=new_fonts) for s in region_styles(dcfg)],
        [replace(s, fonts=train_fonts) for s in novel_styles(dcfg)],
    ):
        data = render_balanced(dcfg, styles, novel_rng)
        acc = evaluate(model, torch.from_numpy(data["x"]), torch.from_numpy(data["y"]))
        out.append([float(a) for a in acc])
    return out[0], out[1]


if __name__ == "__main__":
    main()
