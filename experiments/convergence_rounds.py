"""How many rounds until the headline sweep has converged? Read it off a pilot's histories.

For every method and channel quality in a results folder (a sweep or a run), the seed-mean of
the deepest exit's top-1 per round; the first round after which it moves less than TOLERANCE
points over every window of WINDOW rounds (dqfl.report.convergence) is printed, with the latest
such round over all cells: the number of rounds the default sweep needs.

    # the pilot: every method at a poor and a good channel quality, five seeds, long enough
    dqfl sweep --config experiments/sweep_pilot_rounds.toml --snr-db 0,20 \
        --out results/pilot-rounds
    python experiments/convergence_rounds.py results/pilot-rounds [--window 5] [--tolerance 1]

Exit 0 when every cell settled, 1 when some did not (run a longer pilot), 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys

from dqfl.errors import DqflError
from dqfl.report.collect import find_runs, variant_keys
from dqfl.report.convergence import convergence, convergence_table
from dqfl.report.tables import metrics_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a sweep or run folder with history.jsonl files")
    parser.add_argument("--window", type=int, default=5, help="rounds per window (default 5)")
    parser.add_argument("--tolerance", type=float, default=1.0, help="points of top-1 (default 1)")
    args = parser.parse_args(argv)
    if args.window < 1 or not args.tolerance > 0:
        print("error: --window must be >= 1 and --tolerance > 0", file=sys.stderr)
        return 2
    try:
        runs = find_runs(args.results)
    except DqflError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    variants = variant_keys(runs)
    labels = [metrics_of(run, variants[run.method]).method for run in runs]
    rows = convergence(runs, labels, args.window, args.tolerance / 100)
    if not rows:
        print("error: no run has a per-round history", file=sys.stderr)
        return 2
    print(
        f"First round after which the seed-mean of the deepest exit moves less than "
        f"{args.tolerance:g} point(s) over every {args.window}-round window:\n"
    )
    print(convergence_table(rows))
    print()
    for r in rows:
        settled = f"round {r.settled}" if r.settled else "not settled"
        print(
            f"  {r.label:28s} {r.snr_db:6g} dB  {r.n_seeds} seed(s), {r.rounds} rounds: "
            f"{settled}; final deepest-exit top-1 {100 * r.final_mean:.1f} %"
        )
    unsettled = [r for r in rows if r.settled is None]
    if unsettled:
        longest = max(r.rounds for r in rows)
        print(
            f"\n{len(unsettled)} of {len(rows)} cell(s) did not settle within their rounds "
            f"(up to {longest}): run a longer pilot (--set federation.rounds=...)."
        )
        return 1
    latest = max(r.settled for r in rows if r.settled is not None)
    print(f"\nEvery cell settled by round {latest}: default rounds = {latest}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
