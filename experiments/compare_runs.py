"""How far two runs of the same sweep differ, run by run: the check behind "re-run after a code
change, the results moved by less than the seed-to-seed spread".

A change of code that keeps the method (new kernels, another build of them) still changes float
rounding, and a federation amplifies a last-bit difference over its rounds. This pairs the runs of
two runs tables by (method, strategy, snr_db, seed) and prints, per method and metric, the
difference B - A in points: mean ± standard deviation over the paired runs, the largest
magnitude, and how many runs are identical (to the table's four decimals). The seed-to-seed
standard deviation of B, averaged over qualities, is printed beside it for scale. Where the
report's paired-differences table sits beside each runs table, the paired intervals that exclude
0 in A and in B are compared too (a re-run should not change the findings).

A table is a runs CSV (a report's ``runs.csv``, published as ``docs/sweep_runs.csv``), a results
folder (its ``report/runs.csv``, written by ``dqfl report``), or ``REV:PATH`` for a committed
version read with ``git show``, so published runs compare straight from the history:

    python experiments/compare_runs.py 14c34da:docs/sweep_runs.csv docs/sweep_runs.csv
    python experiments/compare_runs.py results/sweep-old results/sweep-default --metrics global_top1
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = ("method", "strategy", "snr_db", "seed")
METRICS = ("global_top1", "fleet_top1")


class InputError(Exception):
    """A table that cannot be read; the command prints it as one line and exits with 2."""


def _runs_spec(spec: str) -> str:
    """A results folder stands for its report's runs table."""
    if Path(spec).is_dir():
        path = Path(spec) / "report" / "runs.csv"
        if not path.is_file():
            raise InputError(f"{spec} has no report/runs.csv (run `dqfl report {spec}` first)")
        return str(path)
    return spec


def _read_text(spec: str) -> str:
    if Path(spec).is_file():
        return Path(spec).read_text()
    if ":" in spec:
        rev, _, name = spec.partition(":")
        done = subprocess.run(
            ["git", "show", f"{rev}:{name}"], cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode:
            raise InputError(f"cannot read {spec} from git: {done.stderr.strip()}")
        return done.stdout
    raise InputError(f"{spec} is neither a file, a results folder nor REV:PATH")


def read_table(spec: str) -> list[dict[str, str]]:
    """Rows of a runs CSV given as a file, a results folder or ``REV:PATH`` (see module doc)."""
    text = _read_text(_runs_spec(spec))
    rows = list(csv.DictReader(io.StringIO(text)))
    missing = [c for c in KEY if rows and c not in rows[0]]
    if not rows or missing:
        raise InputError(f"{spec} is not a runs table (no rows, or no column {missing})")
    return rows


def significant(spec: str) -> set[str] | None:
    """The paired intervals that exclude 0 in the report beside a runs table (``runs.csv`` ->
    ``paired_differences.csv``; published ``<prefix>runs.csv`` -> ``<prefix>paired.csv``), as
    ``metric a-b @ snr`` labels; None where there is no such table."""
    runs = _runs_spec(spec)
    if not runs.endswith("runs.csv"):
        return None
    head = runs[: -len("runs.csv")]
    name = head + (
        "paired_differences.csv" if head.endswith(("/", ":")) or not head else "paired.csv"
    )
    try:
        rows = csv.DictReader(io.StringIO(_read_text(name)))
        return {
            f"{r['metric']} {r['a']}-{r['b']} @ {r['snr_db']} dB"
            for r in rows
            if r["significant"].strip() == "true"
        }
    except (InputError, KeyError):
        return None


def paired(a: list[dict[str, str]], b: list[dict[str, str]]) -> list[tuple[dict, dict]]:
    """Rows of ``a`` and ``b`` with the same (method, strategy, snr_db, seed), in ``b``'s order."""
    by_key = {tuple(r[c] for c in KEY): r for r in a}
    return [(by_key[k], r) for r in b if (k := tuple(r[c] for c in KEY)) in by_key]


def seed_spread(rows: list[dict[str, str]], metric: str) -> float:
    """Standard deviation over seeds at one (method, strategy, quality), averaged over those."""
    cells: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        cells[(r["method"], r["strategy"], r["snr_db"])].append(float(r[metric]))
    spreads = [statistics.stdev(v) for v in cells.values() if len(v) > 1]
    return statistics.fmean(spreads) if spreads else float("nan")


def compare(
    a: list[dict[str, str]], b: list[dict[str, str]], metrics: tuple[str, ...] = METRICS
) -> list[dict[str, object]]:
    """One row per (method, metric): the statistics the module docstring lists, in points."""
    pairs = paired(a, b)
    out = []
    for method in dict.fromkeys(rb["method"] for _, rb in pairs):
        mine = [(ra, rb) for ra, rb in pairs if rb["method"] == method]
        for metric in metrics:
            diffs = [100 * (float(rb[metric]) - float(ra[metric])) for ra, rb in mine]
            out.append(
                {
                    "method": method,
                    "metric": metric,
                    "runs": len(diffs),
                    "mean": statistics.fmean(diffs),
                    "sd": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
                    "largest": max(abs(d) for d in diffs),
                    "identical": sum(ra[metric] == rb[metric] for ra, rb in mine),
                    "seed_sd": 100 * seed_spread([rb for _, rb in mine], metric),
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="the earlier run: runs CSV, results folder or REV:PATH")
    parser.add_argument("b", help="the later run, in the same forms")
    parser.add_argument(
        "--metrics", default=",".join(METRICS), help="runs-table columns (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        a, b = read_table(args.a), read_table(args.b)
        metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
        unknown = [m for m in metrics if m not in b[0] or m not in a[0]]
        if unknown or not metrics:
            raise InputError(f"--metrics: no column {unknown or metrics} in both tables")
        rows = compare(a, b, metrics)
        if not rows:
            raise InputError("the two tables share no (method, strategy, snr_db, seed)")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"B - A in points, paired by {', '.join(KEY)}: {len(paired(a, b))} runs in both")
    print(f"  A: {args.a} ({len(a)} runs)\n  B: {args.b} ({len(b)} runs)")
    head = f"{'method':<10} {'metric':<12} {'runs':>4}  {'mean ± sd':>13}  {'largest':>7}"
    print(f"{head}  {'identical':>9}  {'seed sd (B)':>11}")
    for r in rows:
        print(
            f"{r['method']:<10} {r['metric']:<12} {r['runs']:>4}  "
            f"{r['mean']:+6.2f} ± {r['sd']:4.2f}  {r['largest']:7.2f}  "
            f"{r['identical']:>4} of {r['runs']:<2}  {r['seed_sd']:11.1f}"
        )
    sig_a, sig_b = significant(args.a), significant(args.b)
    if sig_a is not None and sig_b is not None:
        same = "the same" if sig_a == sig_b else "different"
        print(f"paired intervals excluding 0: A {len(sig_a)}, B {len(sig_b)} ({same})")
        for label in sorted(sig_a ^ sig_b):
            print(f"  only in {'A' if label in sig_a else 'B'}: {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
