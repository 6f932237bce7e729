"""Copy a report's figures and tables into docs/ under the names the README links to.

    dqfl report results/sweep-default
    python experiments/publish_report.py results/sweep-default/report --prefix sweep_
    python experiments/publish_report.py results/sweep-split/report --prefix split_

Figures go to docs/figures/<prefix><name>.png (acc_vs_quality, acc_vs_quality_per_exit,
acc_vs_energy, acc_vs_airtime, acc_vs_round, depth_vs_quality: whichever the report drew), the
tables to docs/<prefix>table.csv (headline mean and 95 % CI per cell), <prefix>cells.csv (every
cell), <prefix>paired.csv (paired differences), <prefix>runs.csv (one row per run), and
docs/<prefix>report.md with its links pointed at the copies (report.html stays in the results
folder). Prints every file it wrote.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

FIGURES = (
    "acc_vs_quality",
    "acc_vs_quality_per_exit",
    "acc_vs_energy",
    "acc_vs_airtime",
    "acc_vs_round",
    "depth_vs_quality",
)
TABLES = {
    "table_top1.csv": "table.csv",
    "cells.csv": "cells.csv",
    "paired_differences.csv": "paired.csv",
    "runs.csv": "runs.csv",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report folder (dqfl report writes it)")
    parser.add_argument("--prefix", default="sweep_", help="file name prefix (default sweep_)")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="default: docs")
    args = parser.parse_args(argv)
    if not (args.report / "report.md").is_file():
        print(f"error: {args.report} holds no report.md (run `dqfl report` first)", file=sys.stderr)
        return 2
    (args.docs / "figures").mkdir(parents=True, exist_ok=True)
    names = [*FIGURES, *sorted(p.stem for p in args.report.glob("scenario*.png"))]
    links = {}  # the report's link → the copy's path relative to docs/
    for name in names:
        src = args.report / f"{name}.png"
        if src.is_file():
            dst = args.docs / "figures" / f"{args.prefix}{name}.png"
            shutil.copyfile(src, dst)
            links[src.name] = f"figures/{dst.name}"
            print(f"wrote {dst}")
    for src_name, dst_name in TABLES.items():
        src, dst = args.report / src_name, args.docs / f"{args.prefix}{dst_name}"
        if src.is_file():
            shutil.copyfile(src, dst)
            links[src_name] = dst.name
            print(f"wrote {dst}")
    text = (args.report / "report.md").read_text()
    for old, new in links.items():
        text = text.replace(f"]({old})", f"]({new})")
    dst = args.docs / f"{args.prefix}report.md"
    dst.write_text(text)
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
