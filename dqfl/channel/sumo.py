"""SUMO traffic as the mobility model: scenarios, one supervised SUMO process, trajectories.

Why precomputed: a run asks for positions round by round, but SUMO is deterministic for a seed,
so dqfl runs SUMO once per (scenario, seed, fleet size, horizon) before training - warm-up, then
``round_s`` of SUMO time per round, reading every mapped vehicle's position and speed through
TraCI - and caches the trajectories. Training then never waits on SUMO, a broken scenario fails
before any training, and no SUMO process outlives the function that started it (it is stopped
in a ``finally``: on errors, on Ctrl-C, and SUMO itself quits when its TraCI client goes away).

Mapping: Flower vehicle k is the k-th SUMO vehicle on the road at round 0, newest departure
first (on a road that vehicles drive through, these stay longest), then those departing later in
departure order (prefix-stable in the fleet size). A mapped vehicle that has
not departed yet, or has arrived, is not on the road that round.

Built-in scenarios (generated with SUMO's netgenerate and randomTrips.py, seeded, cached under
``$DQFL_CACHE_DIR/sumo`` by their configuration):
  highway  a straight 2 km road, 3 lanes each way, 120 km/h; vehicles enter at either end every
           ``sumo_period_s`` on average and drive through (about 70 s in the network).
  urban    a 5 x 5 street grid (200 m blocks, 2 lanes each way, 50 km/h, traffic lights);
           vehicles are inserted during the first 120 s and then keep driving (SUMO's continuous
           rerouters); the blocks between streets are buildings for the 3GPP urban NLOS test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqfl.channel.config import SCENARIOS, ChannelConfig
from dqfl.channel.snapshot import Snapshot
from dqfl.errors import DqflError

MISSING = (
    "channel.mobility = 'sumo' needs SUMO, which is not installed: "
    "pip install 'dqfl[sumo]' (eclipse-sumo and traci)"
)
GENERATOR_VERSION = 1  # bump when the built-in scenarios change
URBAN_INSERT_S = 120.0
CONNECT_TIMEOUT_S = 60.0
#: pids of SUMO processes currently running under dqfl (empty whenever none is alive)
ACTIVE_PIDS: set[int] = set()


# --- finding SUMO ----------------------------------------------------------------------------
def sumo_home() -> Path:
    """SUMO's installation (the eclipse-sumo wheel, else $SUMO_HOME) or a DqflError naming the
    extra to install."""
    home: Path | None = None
    try:
        import sumo  # the eclipse-sumo wheel

        home = Path(sumo.SUMO_HOME)
    except ImportError:
        if os.environ.get("SUMO_HOME"):
            home = Path(os.environ["SUMO_HOME"])
    try:
        import traci  # noqa: F401
    except ImportError:
        home = None
    if home is None or not (home / "bin" / "sumo").exists():
        raise DqflError(MISSING)
    return home


def _tool_env(home: Path) -> dict[str, str]:
    return {**os.environ, "SUMO_HOME": str(home)}


def _run_tool(args: list[str], home: Path, cwd: Path, what: str) -> None:
    """Run a SUMO tool to completion; its own error message on failure."""
    proc = subprocess.run(args, cwd=cwd, env=_tool_env(home), capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        raise DqflError(f"SUMO's {what} failed: {lines[-1] if lines else proc.returncode}")


def cache_root() -> Path:
    return Path(os.environ.get("DQFL_CACHE_DIR", ".dqfl_cache")).expanduser() / "sumo"


def _digest(payload: dict) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- scenarios -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A runnable SUMO scenario and what the channel needs to know about its geometry."""

    name: str
    sumocfg: Path
    net: Path | None
    default_rsu: tuple[float, float] | None  # None: the network's centre
    buildings: np.ndarray | None  # (k, 4) boxes x0, y0, x1, y1 that block line of sight
    key: str  # identifies the scenario's content for the trajectory cache


def scenario_for(cfg: ChannelConfig, seed: int) -> Scenario:
    """The configured scenario: built in (generated once, cached) or the user's .sumocfg."""
    if cfg.scenario in SCENARIOS:
        return _builtin(cfg, seed)
    path = Path(cfg.scenario).expanduser()
    if not path.is_file():
        raise DqflError(f"channel.scenario: no such SUMO configuration file: {path}")
    net = _net_of(path)
    key = _digest({"sumocfg": str(path.resolve()), "text": path.read_bytes().hex()[:20000]})
    return Scenario("custom", path, net, None, None, key)


def _net_of(sumocfg: Path) -> Path | None:
    """The net-file a .sumocfg names (for drawing roads), if it can be read."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(sumocfg).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DqflError(
            f"channel.scenario: {sumocfg} is not a readable SUMO config: {exc}"
        ) from None
    node = root.find(".//net-file")
    if node is None or not node.get("value"):
        raise DqflError(f"channel.scenario: {sumocfg} names no <net-file>")
    return (sumocfg.parent / node.get("value").split(",")[0]).resolve()


def _builtin(cfg: ChannelConfig, seed: int) -> Scenario:
    home = sumo_home()
    params = {
        "name": cfg.scenario,
        "seed": int(seed),
        "period_s": cfg.sumo_period_s,
        "version": GENERATOR_VERSION,
        "sumo": _sumo_version(),
    }
    folder = cache_root() / f"{cfg.scenario}-{_digest(params)}"
    if not (folder / "done").exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{cfg.scenario}-", dir=folder.parent))
        try:
            _generate(cfg.scenario, params, home, tmp)
            (tmp / "done").write_text(json.dumps(params) + "\n")
            try:
                os.replace(tmp, folder)
            except OSError:  # a concurrent writer got there first: theirs is identical
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if cfg.scenario == "highway":
        rsu, buildings = (1000.0, -20.0), None
    else:
        rsu = (400.0, 400.0)  # the central junction: line of sight along both streets
        edges = np.arange(4) * 200.0
        buildings = np.array([[x + 10, y + 10, x + 190, y + 190] for x in edges for y in edges])
    key = _digest({"builtin": params})
    return Scenario(cfg.scenario, folder / "scenario.sumocfg", folder / "net.net.xml", rsu,
                    buildings, key)  # fmt: skip


def _sumo_version() -> str:
    """The installed SUMO's version (generated scenarios may differ between versions)."""
    from importlib import metadata

    for dist in ("eclipse-sumo", "traci"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def _generate(name: str, params: dict, home: Path, out: Path) -> None:
    """Build the network and the seeded demand with SUMO's own tools."""
    netgenerate = str(home / "bin" / "netgenerate")
    random_trips = str(home / "tools" / "randomTrips.py")
    seed = str(params["seed"])
    period = str(params["period_s"])
    additional = ""
    if name == "highway":
        net_args = [
            "--grid", "--grid.x-number", "5", "--grid.y-number", "1", "--grid.x-length", "500",
            "--grid.y-length", "100", "--default.lanenumber", "3", "--default.speed", "33.33",
            "--default-junction-type", "priority", "--no-turnarounds", "true",
        ]  # fmt: skip
        trip_args = ["--end", "3600", "--fringe-factor", "max", "--min-distance", "1500"]
    else:
        net_args = [
            "--grid", "--grid.number", "5", "--grid.length", "200", "--default.lanenumber",
            "2", "--default.speed", "13.89", "--default-junction-type", "traffic_light",
        ]  # fmt: skip
        trip_args = ["--end", str(URBAN_INSERT_S), "--min-distance", "300"]
    _run_tool([netgenerate, *net_args, "--seed", seed, "-o", "net.net.xml"], home, out,
              "netgenerate")  # fmt: skip
    _run_tool(
        [sys.executable, random_trips, "-n", "net.net.xml", "-o", "trips.trips.xml",
         "--seed", seed, "--begin", "0", "--period", period, "--validate", *trip_args,
         "--trip-attributes", 'departLane="best" departSpeed="max"'],
        home, out, "randomTrips.py",
    )  # fmt: skip
    if name == "urban":
        rerouters = str(home / "tools" / "generateContinuousRerouters.py")
        _run_tool([sys.executable, rerouters, "-n", "net.net.xml", "-o", "rerouters.add.xml"],
                  home, out, "generateContinuousRerouters.py")  # fmt: skip
        additional = '<additional-files value="rerouters.add.xml"/>'
    for leftover in out.glob("*.rou.xml"):
        leftover.unlink()
    (out / "scenario.sumocfg").write_text(
        '<configuration>\n  <input>\n    <net-file value="net.net.xml"/>\n'
        '    <route-files value="trips.trips.xml"/>\n'
        f"    {additional}\n  </input>\n</configuration>\n"
    )


# --- one SUMO process under supervision -------------------------------------------------------
class SumoProcess:
    """``with SumoProcess(cfg_file, seed) as conn:`` a TraCI connection; SUMO always stopped."""

    def __init__(self, sumocfg: Path, seed: int) -> None:
        self.home = sumo_home()
        self.sumocfg = Path(sumocfg)
        self.seed = int(seed)
        self.proc: subprocess.Popen | None = None
        self.conn = None
        self._log = None
        self.error = ""  # SUMO's first error line, once it has stopped

    def __enter__(self):
        import traci
        from traci.exceptions import FatalTraCIError, TraCIException

        port = _free_port()
        self._log = tempfile.TemporaryFile(mode="w+")
        args = [
            str(self.home / "bin" / "sumo"), "-c", str(self.sumocfg), "--remote-port", str(port),
            "--seed", str(self.seed), "--no-step-log", "true", "--no-warnings", "true",
            "--duration-log.disable", "true",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=_tool_env(self.home),
            start_new_session=True,  # Ctrl-C reaches dqfl only; dqfl then stops SUMO
        )
        ACTIVE_PIDS.add(self.proc.pid)
        try:
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while True:
                if self.proc.poll() is not None:
                    raise DqflError(f"SUMO could not load {self.sumocfg}: {self._error_text()}")
                try:
                    self.conn = traci.connect(port, numRetries=0, proc=self.proc)
                    break
                except (FatalTraCIError, TraCIException, OSError):
                    if time.monotonic() > deadline:
                        raise DqflError(f"SUMO did not answer on port {port}") from None
                    time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        return self.conn

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Close TraCI and make sure the process is gone (terminate, then kill)."""
        if self.conn is not None:
            try:
                self.conn.close(wait=False)
            except Exception:  # SUMO may already be gone; the process check below decides
                pass
            self.conn = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            ACTIVE_PIDS.discard(self.proc.pid)
            self.proc = None
        if self._log is not None:
            self.error = self._error_text(default="")
            self._log.close()
            self._log = None

    def _error_text(self, default: str = "exited without a message") -> str:
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.lower().startswith("error")]
        return (errors or lines or [default])[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- trajectories ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Trajectories:
    """Positions of the mapped vehicles per round: xy (R, n, 2), speed and on_road (R, n)."""

    xy_m: np.ndarray
    speed_mps: np.ndarray
    on_road: np.ndarray
    ids: list[str]  # SUMO id of Flower vehicle k ("" if none was ever mapped)
    boundary: tuple[float, float, float, float]  # x0, y0, x1, y1 of the network


def record(
    scenario: Scenario, cfg: ChannelConfig, n_vehicles: int, seed: int, rounds: int
) -> Trajectories:
    """Run SUMO through warm-up and ``rounds`` rounds; fail clearly if it has no vehicles."""
    from traci.exceptions import FatalTraCIError, TraCIException

    xy = np.full((rounds, n_vehicles, 2), np.nan)
    speed = np.zeros((rounds, n_vehicles))
    mapped: list[str] = []
    sumo = SumoProcess(scenario.sumocfg, seed)
    try:
        with sumo as conn:
            (x0, y0), (x1, y1) = conn.simulation.getNetBoundary()
            t0 = conn.simulation.getTime()
            departed: list[str] = []

            def advance_to(t: float) -> None:
                while conn.simulation.getTime() < t - 1e-9:
                    conn.simulationStep()
                    departed.extend(conn.simulation.getDepartedIDList())

            advance_to(t0 + cfg.sumo_warmup_s)
            present = set(conn.vehicle.getIDList())
            # newest first: on a road that vehicles drive through, they stay longest
            mapped.extend([v for v in reversed(departed) if v in present][:n_vehicles])
            seen = len(departed)
            for r in range(rounds):
                if r > 0:
                    advance_to(t0 + cfg.sumo_warmup_s + r * cfg.round_s)
                    if len(mapped) < n_vehicles:
                        mapped.extend(departed[seen:][: n_vehicles - len(mapped)])
                    seen = len(departed)
                present = set(conn.vehicle.getIDList())
                for k, vid in enumerate(mapped):
                    if vid in present:
                        xy[r, k] = conn.vehicle.getPosition(vid)
                        speed[r, k] = conn.vehicle.getSpeed(vid)
    except (FatalTraCIError, TraCIException) as exc:
        if sumo.error:
            raise DqflError(f"SUMO could not load {scenario.sumocfg}: {sumo.error}") from None
        raise DqflError(f"SUMO stopped while running {scenario.sumocfg}: {exc}") from None
    horizon = cfg.sumo_warmup_s + rounds * cfg.round_s
    if not mapped:
        raise DqflError(
            f"SUMO scenario {scenario.sumocfg} has no vehicles on the road during its first "
            f"{horizon:g} s (warm-up {cfg.sumo_warmup_s:g} s + {rounds} rounds)"
        )
    if len(mapped) < n_vehicles:
        raise DqflError(
            f"SUMO scenario {scenario.sumocfg} has only {len(mapped)} vehicles during its first "
            f"{horizon:g} s; data.n_vehicles = {n_vehicles} needs as many (lower "
            "channel.sumo_period_s or data.n_vehicles)"
        )
    on_road = ~np.isnan(xy[..., 0])
    return Trajectories(xy, speed, on_road, mapped, (x0, y0, x1, y1))


def trajectories(
    scenario: Scenario, cfg: ChannelConfig, n_vehicles: int, seed: int, rounds: int
) -> Trajectories:
    """Cached :func:`record` (on disk, by everything that shapes the result)."""
    key = _digest(
        {
            "scenario": scenario.key,
            "seed": int(seed),
            "n": int(n_vehicles),
            "rounds": int(rounds),
            "round_s": cfg.round_s,
            "warmup_s": cfg.sumo_warmup_s,
            "version": GENERATOR_VERSION,
        }
    )
    path = cache_root() / "trajectories" / f"{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return Trajectories(
                z["xy"], z["speed"], z["on_road"], [str(s) for s in z["ids"]],
                tuple(float(b) for b in z["boundary"]),
            )  # fmt: skip
    traj = record(scenario, cfg, n_vehicles, seed, rounds)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    with os.fdopen(fd, "wb") as f:
        np.savez(f, xy=traj.xy_m, speed=traj.speed_mps, on_road=traj.on_road,
                 ids=np.array(traj.ids), boundary=np.array(traj.boundary))  # fmt: skip
    os.replace(tmp, path)
    return traj


class SumoMobility:
    """Mobility from a SUMO scenario: ``positions(round)`` reads the precomputed trajectories."""

    name = "sumo"

    def __init__(
        self, cfg: ChannelConfig, n_vehicles: int, seed: int, rounds: int | None = None
    ) -> None:
        self.cfg = cfg
        self.n = int(n_vehicles)
        self.seed = int(seed)
        self.scenario = scenario_for(cfg, seed)
        self.traj = trajectories(self.scenario, cfg, self.n, self.seed, max(int(rounds or 1), 1))
        x0, y0, x1, y1 = self.traj.boundary
        default = self.scenario.default_rsu or ((x0 + x1) / 2, (y0 + y1) / 2)
        self.rsu_xy = np.array(
            [
                default[0] if cfg.rsu_x_m is None else cfg.rsu_x_m,
                default[1] if cfg.rsu_y_m is None else cfg.rsu_y_m,
            ]
        )
        self.buildings = self.scenario.buildings
        self.bounds = self.traj.boundary

    def positions(self, round_idx: int) -> Snapshot:
        """Where every Flower vehicle is at ``round_idx`` (SUMO runs again for a longer horizon
        if a round past the precomputed ones is asked for; same seed, same prefix)."""
        if round_idx >= len(self.traj.xy_m):
            longer = max(2 * len(self.traj.xy_m), round_idx + 1)
            self.traj = trajectories(self.scenario, self.cfg, self.n, self.seed, longer)
        return Snapshot(
            self.traj.xy_m[round_idx].copy(),
            self.traj.speed_mps[round_idx].copy(),
            self.traj.on_road[round_idx].copy(),
        )

    def roads(self) -> list[np.ndarray]:
        """Lane shapes of the network as polylines (for drawing the scenario)."""
        if self.scenario.net is None or not self.scenario.net.exists():
            return []
        import sumolib

        net = sumolib.net.readNet(str(self.scenario.net))
        return [
            np.asarray(lane.getShape())
            for edge in net.getEdges()
            if edge.getFunction() != "internal"
            for lane in edge.getLanes()
        ]
