"""README figure: P(d >= l) against channel quality for the default model, exact vs Monte Carlo.

Left: one vehicle at the reference distance (mean SNR = snr_db): closed-form lines, Monte Carlo
markers (fast fading only). Right: the whole road (vehicles placed by the mobility model, 20 of
them over many rounds, as the federation sees them) against the closed form averaged over the
road. Dashed black: vanilla all-or-nothing (P(d = L)). The split is the product default
("optimal", re-optimised at each quality).

    python experiments/plot_channel.py [--out docs/figures/channel_depth_vs_snr.png]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dqfl.channel import (  # noqa: E402
    ChannelConfig,
    VehicularUplink,
    block_bits,
    block_rates,
    closed_form_depth_probabilities,
    resolve_split,
    thresholds,
    vanilla_full_probability,
    vanilla_threshold,
)
from dqfl.channel.comparison import compare_at  # noqa: E402
from dqfl.channel.power_split import position_snrs  # noqa: E402
from dqfl.federation.common import default_block_params  # noqa: E402

SWEEP = [-5, 0, 5, 10, 15, 20, 25]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/figures/channel_depth_vs_snr.png")
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--vehicles", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()

    base = ChannelConfig()
    counts, source = default_block_params()
    bits = block_bits(counts, base.bits_per_param)
    n = len(bits)
    theta = thresholds(block_rates(bits, base.bandwidth_hz, base.slot_s))
    theta_v = vanilla_threshold(bits, base.bandwidth_hz, base.slot_s)
    grid = np.arange(-5.0, 25.01, 1.0)

    ref_exact, road_exact, ref_van, road_van = [], [], [], []
    for snr in grid:
        cfg = dataclasses.replace(base, snr_db=float(snr))
        lam = resolve_split(cfg, bits)
        gbar = 10 ** (snr / 10)
        ref_exact.append(closed_form_depth_probabilities(gbar, theta, lam).p_at_least)
        ref_van.append(float(vanilla_full_probability(gbar, theta_v)))
        snrs, w = position_snrs(cfg)
        road_exact.append(w @ closed_form_depth_probabilities(snrs, theta, lam).p_at_least)
        road_van.append(float(w @ vanilla_full_probability(snrs, theta_v)))

    ref_mc, ref_van_mc, road_mc, road_van_mc = [], [], [], []
    for snr in SWEEP:
        cfg = dataclasses.replace(base, snr_db=float(snr))
        lam = resolve_split(cfg, bits)
        res = compare_at(cfg, bits, lam, float(snr), args.trials, seed=snr + 100)
        ref_mc.append(res.p_mc)
        ref_van_mc.append(res.vanilla_p_mc)
        up = VehicularUplink(cfg, args.vehicles, seed=0)
        sc = np.concatenate([up.transmit(r, bits).depths for r in range(args.rounds)])
        va = np.concatenate([up.transmit(r, bits, "vanilla").depths for r in range(args.rounds)])
        road_mc.append([(sc >= level).mean() for level in range(1, n + 1)])
        road_van_mc.append((va == n).mean())

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colors = plt.cm.viridis(np.linspace(0.05, 0.85, n))
    panels = [
        (
            axes[0],
            ref_exact,
            ref_van,
            ref_mc,
            ref_van_mc,
            f"one vehicle at {base.ref_distance_m:g} m",
        ),
        (
            axes[1],
            road_exact,
            road_van,
            road_mc,
            road_van_mc,
            f"whole road ({args.vehicles} vehicles x {args.rounds} rounds)",
        ),
    ]
    for ax, exact, van, mc, van_mc, title in panels:
        exact = np.array(exact)
        mc = np.array(mc)
        for level in range(n):
            ax.plot(grid, exact[:, level], color=colors[level], label=f"P(d ≥ {level + 1})")
            ax.plot(SWEEP, mc[:, level], "o", color=colors[level], ms=5, mfc="none")
        ax.plot(grid, van, "k--", label=f"vanilla P(d = {n})")
        ax.plot(SWEEP, van_mc, "kx", ms=6)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("channel quality snr_db (mean SNR at the reference distance, dB)")
        ax.grid(alpha=0.3)
        ax.set_xticks(SWEEP)
    axes[0].set_ylabel("probability")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(
        "Delivered depth, superposition coding + SIC (optimal split) vs vanilla; "
        "lines: closed form, markers: Monte Carlo\n"
        f"blocks of {' + '.join(str(b) for b in bits)} bits "
        f"({' + '.join(str(c) for c in counts)} parameters at {base.bits_per_param} bit)",
        fontsize=10,
    )
    fig.text(0.01, 0.01, f"block parameters from {source}", fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 0.92))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
