"""`dqfl channel`: the uplink's depth distribution at one channel quality, simulated and exact.

At a fixed distance (default: the reference distance, where the mean SNR equals --snr-db) it draws
--trials fades, decodes the default model's blocks with superposition coding + SIC and as one
vanilla message, and prints P(d >= l) next to the closed form, plus the mean delivered depth.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from dqfl.errors import DqflError


def channel(
    snr_db: Annotated[
        float | None,
        typer.Option(
            "--snr-db",
            help="Channel quality: mean SNR (dB) at the reference distance (default 10).",
        ),
    ] = None,
    trials: Annotated[int, typer.Option(help="Monte Carlo fading draws.")] = 100_000,
    split: Annotated[
        str | None,
        typer.Option(
            help='Power split: "optimal" (default), "geometric" or fractions "0.5,0.3,0.15,0.05".'
        ),
    ] = None,
    distance: Annotated[
        float | None,
        typer.Option(
            "--distance", help="Vehicle distance to the RSU in m (default: reference, 250 m)."
        ),
    ] = None,
    bits_per_param: Annotated[int | None, typer.Option(help="32, 16 or 8 bits.")] = None,
    bandwidth_hz: Annotated[float | None, typer.Option(help="Bandwidth per vehicle (Hz).")] = None,
    slot_s: Annotated[float | None, typer.Option(help="Uplink slot (s).")] = None,
    fading: Annotated[str | None, typer.Option(help='"rayleigh" or "rician".')] = None,
    rician_k: Annotated[float | None, typer.Option(help="Rician K factor (linear).")] = None,
    block_params: Annotated[
        str | None,
        typer.Option(
            help='Parameters per block, e.g. "138,138,138,138" (default: the default model).'
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo draws and the scenario.")] = 0,
    pathloss: Annotated[
        str | None,
        typer.Option(help='"log_distance" (default), "3gpp_highway" or "3gpp_urban" (TR 37.885).'),
    ] = None,
    mobility: Annotated[
        str | None, typer.Option(help='"road" (built-in, default) or "sumo" (needs dqfl[sumo]).')
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(help='With --mobility sumo: "highway", "urban" or a .sumocfg file.'),
    ] = None,
    plot: Annotated[
        str | None,
        typer.Option(
            help="Also draw the scenario (roads, RSU, vehicle tracks) and the mean SNR per round "
            "to this PNG file."
        ),
    ] = None,
    vehicles: Annotated[int, typer.Option(help="Vehicles drawn with --plot.")] = 10,
    rounds: Annotated[int, typer.Option(help="Rounds drawn with --plot.")] = 20,
    json_path: Annotated[
        str | None, typer.Option("--json", help='Also write the results as JSON to FILE, or "-".')
    ] = None,
) -> None:
    """Depth distribution of the superposition-coded uplink: Monte Carlo vs closed form."""
    from dqfl.channel.comparison import compare_at
    from dqfl.channel.config import ChannelConfig, parse_floats
    from dqfl.channel.pathloss import noise_dbm, nominal_mean_snr_db, tx_power_dbm, tx_power_w
    from dqfl.channel.payload import block_bits
    from dqfl.channel.power_split import objective_value, position_snrs, resolve_split

    overrides = {
        "snr_db": snr_db,
        "power_split": split,
        "bits_per_param": bits_per_param,
        "bandwidth_hz": bandwidth_hz,
        "slot_s": slot_s,
        "fading": fading,
        "rician_k": rician_k,
        "pathloss": pathloss,
        "mobility": mobility,
        "scenario": scenario,
    }
    cfg = ChannelConfig(**{k: v for k, v in overrides.items() if v is not None})
    cfg.validate()
    if trials < 1:
        raise DqflError(f"--trials must be >= 1; got {trials}")
    if distance is not None and (not math.isfinite(distance) or distance <= 0):
        raise DqflError(f"--distance must be > 0 metres; got {distance}")
    if plot is not None:
        if vehicles < 1 or rounds < 1:
            raise DqflError(f"--vehicles and --rounds must be >= 1; got {vehicles}, {rounds}")
        _plot_scenario(cfg, Path(plot), vehicles, seed, rounds)
    if block_params is None:
        from dqfl.federation.common import default_block_params  # the model's room builds it

        counts, source = default_block_params()
    else:
        values = parse_floats("block_params", block_params)
        if not all(v >= 1 and float(v).is_integer() for v in values):
            raise DqflError(
                f"--block-params must be whole numbers >= 1, one per block; got {block_params!r}"
            )
        counts = [int(v) for v in values]
        source = "--block-params"
    from dqfl.limits import check_fits

    # the Monte Carlo holds a few float64 arrays of trials x blocks
    check_fits(f"--trials {trials}", 4 * 8 * trials * (len(counts) + 1), "lower --trials")
    bits = block_bits(counts, cfg.bits_per_param)
    lam = resolve_split(cfg, bits)
    dist = cfg.ref_distance_m if distance is None else float(distance)
    at_db = float(nominal_mean_snr_db(cfg, dist))
    result = compare_at(cfg, bits, lam, at_db, trials, seed)

    snrs, weights = position_snrs(cfg)
    from dqfl.channel.closed_form import closed_form_depth_probabilities
    from dqfl.channel.payload import block_rates, thresholds

    theta = thresholds(block_rates(bits, cfg.bandwidth_hz, cfg.slot_s))
    road = (
        weights
        @ closed_form_depth_probabilities(snrs, theta, lam, cfg.fading, cfg.rician_k).p_at_least
    )

    payload = {
        "config": dataclasses.asdict(cfg),
        "model": {"block_params": counts, "source": source},
        "distance_m": dist,
        "mean_snr_db": at_db,
        "mean_gain": 10 ** (at_db / 10),  # linear mean SNR = P gbar / sigma^2 (noise = 1)
        "noise_dbm": float(noise_dbm(cfg)),
        "tx_power_dbm": float(tx_power_dbm(cfg)),
        "energy_per_round_j": float(tx_power_w(cfg) * cfg.slot_s),
        "airtime_per_round_s": cfg.slot_s,
        "trials": trials,
        "seed": seed,
        "power_split": lam.tolist(),
        "block_bits": bits,
        "rates_bit_per_hz": result.rates.tolist(),
        "thresholds": result.thresholds.tolist(),
        "snr_thresholds": [_finite_or_none(t) for t in result.snr_thresholds],
        "decodable": result.decodable.tolist(),
        "superposition": {
            "p_at_least_closed": result.p_closed.tolist(),
            "p_at_least_mc": result.p_mc.tolist(),
            "se_mc": result.se_mc.tolist(),
            "mean_depth_closed": result.mean_depth_closed,
            "mean_depth_mc": result.mean_depth_mc,
            "road_average_p_at_least": road.tolist(),
            "road_average_objective": objective_value(
                road, cfg.split_objective, cfg.utilities_for(len(bits))
            ),
        },
        "vanilla": {
            "threshold": result.vanilla_threshold,
            "p_full_closed": result.vanilla_p_closed,
            "p_full_mc": result.vanilla_p_mc,
            "se_mc": result.vanilla_se_mc,
            "mean_depth_closed": result.vanilla_mean_depth_closed,
            "mean_depth_mc": result.vanilla_mean_depth_mc,
        },
    }
    if json_path == "-":
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        _warn(result, err=True)
        return
    if json_path is not None:
        try:
            Path(json_path).write_text(json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            raise DqflError(f"cannot write --json file {json_path}: {exc.strerror}") from exc
    _print_table(cfg, payload, result)
    _warn(result, err=False)


def _plot_scenario(cfg, path: Path, n: int, seed: int, rounds: int) -> None:
    """Draw the scenario and print the per-round mean-SNR spread of the vehicles in range."""
    from rich.console import Console

    from dqfl.channel import scenario_plot

    mobility, xy, snr, in_range = scenario_plot.simulate_tracks(cfg, n, seed, rounds)
    scenario_plot.draw(path, cfg, mobility, xy, np.where(in_range, snr, np.nan).tolist())
    ok = snr[in_range]
    Console().print(
        f"scenario: {path} ({n} vehicles, {rounds} rounds); vehicles in range per round "
        f"{in_range.sum(axis=1).min()}-{in_range.sum(axis=1).max()}; mean SNR in range: "
        + (
            f"median {np.median(ok):.1f} dB, 10-90 % {np.percentile(ok, 10):.1f} to "
            f"{np.percentile(ok, 90):.1f} dB"
            if ok.size
            else "none in range"
        )
    )


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _db(x: float) -> str:
    if not np.isfinite(x):
        return "never"
    return "-inf" if x <= 0 else f"{10 * np.log10(x):.2f}"


def _print_table(cfg, payload: dict, result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = (
        f"Uplink depth at mean SNR {payload['mean_snr_db']:.2f} dB "
        f"(d = {payload['distance_m']:g} m, {cfg.fading}, {payload['trials']} draws)"
    )
    table = Table(title=title, caption="τ_l: SNR block l needs after SIC; MC ± 1 std. error")
    for name in ("l", "λ_l", "θ_l dB", "τ_l dB", "P(d≥l)", "MC", "±", "vanilla", "MC"):
        table.add_column(name, justify="right")
    for i in range(len(result.bits)):
        table.add_row(
            str(i + 1),
            f"{result.split[i]:.4f}",
            _db(result.thresholds[i]),
            _db(result.snr_thresholds[i]) if result.decodable[i] else "[red]never[/red]",
            f"{result.p_closed[i]:.4f}",
            f"{result.p_mc[i]:.4f}",
            f"{result.se_mc[i]:.4f}",
            f"{result.vanilla_p_closed:.4f}",
            f"{result.vanilla_p_mc:.4f}",
        )
    console.print(table)
    sp, va = payload["superposition"], payload["vanilla"]
    console.print(
        f"mean delivered depth: superposition {sp['mean_depth_closed']:.3f} exact, "
        f"{sp['mean_depth_mc']:.3f} MC | vanilla {va['mean_depth_closed']:.3f} exact, "
        f"{va['mean_depth_mc']:.3f} MC (vanilla threshold {_db(va['threshold'])} dB)"
    )
    road = ", ".join(f"{p:.3f}" for p in sp["road_average_p_at_least"])
    console.print(
        f"split {cfg.power_split!r} ({cfg.split_objective} over the road: "
        f"{sp['road_average_objective']:.3f}); road-averaged P(d≥l) = [{road}]"
    )
    rates = ", ".join(f"{r:.3f}" for r in result.rates)
    console.print(f"block bits {payload['block_bits']} -> rates [{rates}] bit/s/Hz")
    console.print(
        f"tx power {payload['tx_power_dbm']:.1f} dBm, noise {payload['noise_dbm']:.1f} dBm, "
        f"energy {payload['energy_per_round_j'] * 1e3:.3f} mJ and airtime {cfg.slot_s * 1e3:g} ms "
        f"per vehicle per round; block params from {payload['model']['source']}"
    )


def _warn(result, err: bool) -> None:
    bad = [i + 1 for i, ok in enumerate(result.decodable) if not ok]
    if not bad:
        return
    from rich.console import Console

    Console(stderr=err).print(
        f"[yellow]warning:[/yellow] block(s) {bad} can never be decoded with this power split "
        "(λ_l ≤ θ_l Σ_{j>l} λ_j): P(d ≥ l) = 0 from the first of them on"
    )
