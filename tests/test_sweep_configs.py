"""The sweep configs under experiments/ load, and the headline and knob sweeps share their
number of rounds (the knob sweeps are compared against the headline protocol)."""

from __future__ import annotations

from pathlib import Path

from dqfl.cli.sweep_cmd import _seeds, expand_grid, parse_values
from dqfl.config import load_config

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
HEADLINE = ("sweep_default.toml", "sweep_plan_depth.toml", "sweep_split.toml")


def test_headline_and_knob_sweeps_share_their_rounds() -> None:
    rounds = {name: load_config(EXPERIMENTS / name).federation.rounds for name in HEADLINE}
    assert len(set(rounds.values())) == 1, rounds
    pilot = load_config(EXPERIMENTS / "sweep_pilot_rounds.toml").federation.rounds
    assert pilot > next(iter(rounds.values()))


def test_the_knob_grids_expand_to_the_documented_points() -> None:
    snrs, seeds = parse_values("-5:25:5", "--snr-db"), _seeds("0:4")
    default = expand_grid(
        load_config(EXPERIMENTS / "sweep_default.toml"), snrs, ["dqfl", "qfl", "classical"],
        seeds, None,
    )  # fmt: skip
    assert len(default) == 105
    split = expand_grid(
        load_config(EXPERIMENTS / "sweep_split.toml"), snrs, ["dqfl"], seeds,
        ["channel.split_objective=expected_depth,weighted"],
    )  # fmt: skip
    assert len(split) == 70
    assert {c.channel.split_objective for c in split} == {"expected_depth", "weighted"}
    plan = expand_grid(
        load_config(EXPERIMENTS / "sweep_plan_depth.toml"), snrs, ["dqfl"], seeds,
        ["federation.plan_depth=false,true"],
    )  # fmt: skip
    assert {c.federation.plan_depth for c in plan} == {False, True} and len(plan) == 70
    assert len({c.name for c in plan}) == 70  # every point has its own folder
