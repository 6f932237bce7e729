"""Drawing a mobility scenario: roads, buildings, the RSU and its coverage, vehicle tracks, and the
distribution of the vehicles' mean SNR per round. Used by ``dqfl channel --plot`` (tracks drawn
from the channel itself) and by ``dqfl report`` (tracks read back from a run's history).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dqfl.channel.config import ChannelConfig


def simulate_tracks(
    cfg: ChannelConfig, n_vehicles: int, seed: int, rounds: int
) -> tuple[object, np.ndarray, np.ndarray, np.ndarray]:
    """(mobility, xy (R, n, 2), mean SNR dB (R, n), in range (R, n)) of a channel over rounds."""
    from dqfl.channel.largescale import LargeScale
    from dqfl.channel.mobility import make_mobility

    mobility = make_mobility(cfg, n_vehicles, seed, rounds=rounds)
    large = LargeScale(cfg, mobility, n_vehicles, seed)
    states = [large.at(r) for r in range(rounds)]
    xy = np.stack([s.xy_m for s in states])
    snr = np.stack([s.mean_snr_db for s in states])
    in_range = np.stack([s.in_range for s in states])
    return mobility, xy, snr, in_range


def draw(
    path: Path,
    cfg: ChannelConfig,
    mobility,
    xy: np.ndarray,
    mean_snr_db: Sequence[Sequence[float]],
    title: str = "",
) -> Path:
    """Scenario map (left) and per-round mean-SNR boxes of the vehicles in range (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.1, 1]})
    for box in mobility.buildings if mobility.buildings is not None else []:
        x0, y0, x1, y1 = box
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, color="0.88", zorder=0))
    for line in mobility.roads():
        ax.plot(line[:, 0], line[:, 1], color="0.6", lw=0.6, zorder=1)
    n = xy.shape[1]
    colors = plt.get_cmap("tab10")
    for k in range(n):
        ax.plot(xy[:, k, 0], xy[:, k, 1], "-", color=colors(k % 10), lw=1.8, zorder=3)
        first = np.flatnonzero(~np.isnan(xy[:, k, 0]))
        if first.size:
            p = xy[first[0], k]
            ax.plot(p[0], p[1], "o", color=colors(k % 10), ms=4, zorder=4)
    rsu = np.asarray(mobility.rsu_xy)
    ax.plot(rsu[0], rsu[1], "k^", ms=10, zorder=5, label="RSU")
    ax.add_patch(plt.Circle(rsu, cfg.coverage_m, fill=False, ls="--", color="k", lw=0.8, zorder=2))
    x0, y0, x1, y1 = mobility.bounds
    pad = max(40.0, 0.05 * max(x1 - x0, y1 - y0))
    ax.set_xlim(min(x0, rsu[0]) - pad, max(x1, rsu[0]) + pad)
    ax.set_ylim(min(y0, rsu[1]) - pad, max(y1, rsu[1]) + pad)
    if (x1 - x0) < 5 * max(y1 - y0, 1.0):
        ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(f"{_scenario_name(cfg)}: {n} vehicles over {xy.shape[0]} rounds (o = start)")
    ax.legend(loc="upper right", fontsize=8)

    data = [[v for v in row if v is not None and np.isfinite(v)] for row in mean_snr_db]
    rounds = np.arange(1, len(data) + 1)
    keep = [i for i, d in enumerate(data) if d]
    if keep:
        bx.boxplot([data[i] for i in keep], positions=rounds[keep], widths=0.6, showfliers=True)
    step = max(1, len(data) // 10)
    bx.set_xticks(rounds[::step])
    bx.set_xticklabels([str(r) for r in rounds[::step]])
    bx.set_xlabel("round")
    bx.set_ylabel("mean SNR of the vehicles in range (dB)")
    bx.set_title(
        f"path loss {cfg.pathloss}, snr_db = {cfg.snr_db:g} dB at {cfg.ref_distance_m:g} m"
    )
    bx.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _scenario_name(cfg: ChannelConfig) -> str:
    if cfg.mobility == "road":
        return f"built-in road ({cfg.road_length_m:g} m, {cfg.n_lanes} lanes)"
    return f"SUMO {Path(cfg.scenario).name}"


def tracks_from_history(history: list[dict], n_vehicles: int) -> tuple[np.ndarray, list[list]]:
    """(xy (R, n, 2), mean SNR per round) from a run's history rows (NaN where not sampled)."""
    xy = np.full((len(history), n_vehicles, 2), np.nan)
    snr: list[list] = []
    for r, row in enumerate(history):
        for v, pos in zip(row.get("vehicles", []), row.get("position_m", []), strict=False):
            if pos and pos[0] is not None and 0 <= v < n_vehicles:
                xy[r, v] = pos
        snr.append(list(row.get("mean_snr_db", [])))
    return xy, snr
