"""SUMO mobility: seeded scenarios, continuous in-bounds trajectories, clear errors, no orphans."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from dqfl.channel import ChannelConfig, VehicularUplink, block_bits
from dqfl.channel import sumo as sumo_mod
from dqfl.errors import DqflError

BITS = block_bits([59, 59, 59, 59], 32)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """One cache for this module's tests (scenarios are generated once, as in real use)."""
    root = tmp_path_factory.getbasetemp() / "sumo-cache"
    monkeypatch.setenv("DQFL_CACHE_DIR", str(root))
    yield
    assert not sumo_mod.ACTIVE_PIDS, "a SUMO process outlived its function"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()


@pytest.mark.parametrize("name", ["highway", "urban"])
def test_scenario_generation_is_deterministic_by_seed(name, tmp_path, monkeypatch) -> None:
    cfg = ChannelConfig(mobility="sumo", scenario=name)
    first = sumo_mod.scenario_for(cfg, seed=4)
    trips = (first.sumocfg.parent / "trips.trips.xml").read_text()
    # generate again from scratch elsewhere: same seed -> same demand, other seed -> other demand
    monkeypatch.setenv("DQFL_CACHE_DIR", str(tmp_path / "again"))
    again = sumo_mod.scenario_for(cfg, seed=4)
    assert again.sumocfg != first.sumocfg
    strip = lambda text: text.split("-->", 1)[1]  # noqa: E731  (the header has a timestamp)
    assert strip((again.sumocfg.parent / "trips.trips.xml").read_text()) == strip(trips)
    other = sumo_mod.scenario_for(cfg, seed=5)
    assert strip((other.sumocfg.parent / "trips.trips.xml").read_text()) != strip(trips)


@pytest.mark.parametrize("name", ["highway", "urban"])
def test_trajectories_continuous_within_bounds_and_seeded(name) -> None:
    cfg = ChannelConfig(mobility="sumo", scenario=name, round_s=1.0)
    mob = VehicularUplink(cfg, 10, seed=0, rounds=20).mobility
    traj = mob.traj
    x0, y0, x1, y1 = traj.boundary
    xy = traj.xy_m[traj.on_road]
    assert traj.on_road[0].all()  # every Flower vehicle is on the road at round 0
    assert np.all((xy[:, 0] >= x0 - 5) & (xy[:, 0] <= x1 + 5))
    assert np.all((xy[:, 1] >= y0 - 15) & (xy[:, 1] <= y1 + 15))
    both = traj.on_road[1:] & traj.on_road[:-1]
    step = np.hypot(*(traj.xy_m[1:] - traj.xy_m[:-1]).transpose(2, 0, 1))[both]
    vmax = 33.33 * 1.5 if name == "highway" else 13.89 * 1.5  # speed limit x speed factor
    assert step.max() <= vmax * cfg.round_s  # no jumps between rounds
    assert step.mean() > 1.0  # and they do move
    assert len(set(traj.ids)) == 10
    # same seed, same trajectories (a fresh SUMO run, not the cache); prefix-stable in n
    fresh = sumo_mod.record(mob.scenario, cfg, 12, 0, 20)
    np.testing.assert_array_equal(fresh.xy_m[:, :10], traj.xy_m)
    other = sumo_mod.record(sumo_mod.scenario_for(cfg, 1), cfg, 10, 1, 20)
    assert not np.array_equal(np.nan_to_num(other.xy_m), np.nan_to_num(traj.xy_m))


def test_out_of_range_is_not_transmitting() -> None:
    cfg = ChannelConfig(mobility="sumo", scenario="urban", coverage_m=250.0, snr_db=40.0)
    up = VehicularUplink(cfg, 10, seed=0, rounds=5)
    res = up.transmit(0, BITS)
    out = ~res.in_range
    assert out.any() and res.in_range.any()
    assert np.all(res.depths[out] == 0) and np.all(res.energy_j[out] == 0)
    assert np.all(res.distance_m[out] > 250.0)
    # rounds past the precomputed horizon: SUMO runs again, same prefix
    late = up.transmit(12, BITS)
    assert late.xy_m.shape == (10, 2)
    np.testing.assert_array_equal(up.transmit(0, BITS).mean_snr_db, res.mean_snr_db)


def test_urban_buildings_make_nlos() -> None:
    from dqfl.channel import pathloss as pl

    cfg = ChannelConfig(mobility="sumo", scenario="urban", pathloss="3gpp_urban")
    state = VehicularUplink(cfg, 40, seed=0, rounds=2).large_scale.at(0)
    on_rsu_streets = np.isclose(state.xy_m[:, 0], 400, atol=12) | np.isclose(
        state.xy_m[:, 1], 400, atol=12
    )
    assert np.all(state.condition[on_rsu_streets] != pl.NLOS)
    assert np.any(state.condition[~on_rsu_streets] == pl.NLOS)


def test_sumo_not_installed_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sumo", None)
    monkeypatch.delenv("SUMO_HOME", raising=False)
    with pytest.raises(DqflError, match=r"dqfl\[sumo\]"):
        sumo_mod.sumo_home()


def test_broken_and_empty_scenarios_fail_clearly(tmp_path) -> None:
    broken = tmp_path / "broken.sumocfg"
    broken.write_text('<configuration><input><net-file value="nothere.net.xml"/></input>')
    with pytest.raises(DqflError, match="not a readable SUMO config"):
        VehicularUplink(ChannelConfig(mobility="sumo", scenario=str(broken)), 3)
    missing_net = tmp_path / "missing.sumocfg"
    missing_net.write_text(
        '<configuration><input><net-file value="nothere.net.xml"/></input></configuration>'
    )
    with pytest.raises(DqflError, match="SUMO could not load"):
        VehicularUplink(ChannelConfig(mobility="sumo", scenario=str(missing_net)), 3)
    # a real network without any traffic
    net = sumo_mod.scenario_for(ChannelConfig(mobility="sumo", scenario="urban"), 0).net
    empty = tmp_path / "empty.sumocfg"
    empty.write_text(f'<configuration><input><net-file value="{net}"/></input></configuration>')
    with pytest.raises(DqflError, match="has no vehicles"):
        VehicularUplink(
            ChannelConfig(mobility="sumo", scenario=str(empty), sumo_warmup_s=5.0), 3, rounds=3
        )
    with pytest.raises(DqflError, match="no such SUMO configuration"):
        VehicularUplink(ChannelConfig(mobility="sumo", scenario=str(tmp_path / "x.sumocfg")), 3)
    assert not sumo_mod.ACTIVE_PIDS


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_no_orphan_sumo_after_injected_error(error, monkeypatch) -> None:
    """An error (or Ctrl-C) in the middle of a SUMO run leaves no SUMO process behind."""
    cfg = ChannelConfig(mobility="sumo", scenario="urban")
    scenario = sumo_mod.scenario_for(cfg, 0)
    seen: list[int] = []
    real_enter = sumo_mod.SumoProcess.__enter__

    def enter_then_fail(self):
        conn = real_enter(self)
        seen.append(self.proc.pid)
        assert _alive(self.proc.pid)
        real_step = conn.simulationStep

        def step(*args):
            if conn.simulation.getTime() >= 30:
                raise error("injected")
            return real_step(*args)

        conn.simulationStep = step
        return conn

    monkeypatch.setattr(sumo_mod.SumoProcess, "__enter__", enter_then_fail)
    with pytest.raises(error, match="injected"):
        sumo_mod.record(scenario, cfg, 5, 0, 3)
    assert seen and not _alive(seen[0])
    assert not sumo_mod.ACTIVE_PIDS


def test_sumo_quits_when_dqfl_is_killed(tmp_path) -> None:
    """Even a SIGKILLed dqfl leaves no SUMO behind: SUMO exits when its TraCI client is gone."""
    import subprocess
    import time

    script = tmp_path / "hold.py"
    script.write_text(
        "import sys, time\n"
        "from dqfl.channel import ChannelConfig, sumo\n"
        "cfg = ChannelConfig(mobility='sumo', scenario='urban')\n"
        "p = sumo.SumoProcess(sumo.scenario_for(cfg, 0).sumocfg, 0)\n"
        "p.__enter__()\n"
        "print(p.proc.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    holder = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    pid = int(holder.stdout.readline())
    assert _alive(pid)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(pid)
    if alive:  # do not leave it behind even when the check fails
        os.kill(pid, signal.SIGKILL)
    assert not alive


@pytest.mark.parametrize(
    "args",
    [
        ["--pathloss", "3gpp_highway"],
        ["--mobility", "sumo", "--scenario", "urban", "--pathloss", "3gpp_urban"],
    ],
)
def test_channel_cli_draws_the_scenario(args, tmp_path) -> None:
    import typer
    from typer.testing import CliRunner

    from dqfl.channel.cli import channel

    app = typer.Typer()
    app.command()(channel)
    png = tmp_path / "scenario.png"
    result = CliRunner().invoke(
        app, [*args, "--plot", str(png), "--rounds", "8", "--trials", "2000",
              "--block-params", "59,59,59,59"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "vehicles in range per round" in result.output
    assert png.stat().st_size > 10_000
