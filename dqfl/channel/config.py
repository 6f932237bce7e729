"""The `[channel]` section: every knob of the vehicular uplink, with the product's defaults.

Operating point (why these defaults): a 1 km road with the roadside unit (RSU) in the middle, 10 m
off the road, so vehicles sit 10-500 m from it and the median vehicle is 250 m away. The single
quality knob ``snr_db`` is the mean received SNR at ``ref_distance_m`` = 250 m, i.e. the median
vehicle's mean SNR; the transmit power is derived from it (see ``pathloss.tx_power_dbm``; 20.6 dBm
at snr_db = 25). With 100 kHz per vehicle and a 25 ms slot a slot carries 2500 channel uses. The
default DQNN's blocks hold 454 + 3 x 94 parameters (the base block carries the shared class map);
at 8 bit per parameter (quantised update deltas, :mod:`dqfl.compression`) they need 1.45 and
3 x 0.30 bit/s/Hz, and the vanilla all-in-one message 2.36 bit/s/Hz (threshold 6.2 dB): at the
default 15 dB the mean delivered depth is 3.5 of 4 (``dqfl channel``), and the population's
transition from outage to full depth lies inside the product's sweep snr_db = -5..25 dB.
The default split is "optimal" (maximum expected depth at the configured quality): the geometric
rule is simpler but can leave blocks undecodable when blocks get heavier (shorter slot, bigger
readout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dqfl.errors import DqflError

FADINGS = ("rayleigh", "rician")
BOUNDARIES = ("wrap", "bounce")
SPLIT_RULES = ("geometric", "optimal")
OBJECTIVES = ("expected_depth", "p_full", "weighted")
BITS_PER_PARAM = (8, 16, 32)
MOBILITIES = ("road", "sumo")
SCENARIOS = ("highway", "urban")  # built in; anything ending in .sumocfg is a user's own
PATHLOSSES = ("log_distance", "3gpp_highway", "3gpp_urban")


@dataclass
class ChannelConfig:
    """Uplink parameters (section ``[channel]``); ``validate()`` checks them all."""

    # --- the one quality knob: mean received SNR (dB) at ref_distance_m -------------------
    snr_db: float = 15.0
    # --- link budget ----------------------------------------------------------------------
    bandwidth_hz: float = 100e3  # per vehicle, orthogonal access (no inter-vehicle interference)
    slot_s: float = 0.025  # uplink slot per round; airtime of every transmission
    noise_density_dbm_hz: float = -174.0  # thermal noise at 290 K
    noise_figure_db: float = 7.0
    carrier_hz: float = 5.9e9  # ITS band; sets Doppler for correlated fading
    # --- payload --------------------------------------------------------------------------
    bits_per_param: int = 8  # 32, 16 or 8: update deltas quantised to this (dqfl.compression)
    # The classical baseline's one large message: "same_rate" stretches its airtime so it needs
    # the spectral efficiency of vanilla QFL (it pays in airtime and energy); "same_slot" squeezes
    # it into the common slot (at the defaults it then never arrives).
    classical_airtime: str = "same_rate"
    # --- superposition coding ---------------------------------------------------------------
    power_split: str = "optimal"  # "geometric", "optimal", or "0.5,0.3,0.2" (one per block)
    split_ratio: float = 0.5  # geometric rule: lambda_l proportional to split_ratio**l
    split_objective: str = "expected_depth"  # for "optimal": expected_depth | p_full | weighted
    depth_utilities: str | None = None  # "weighted": utility of delivering depth 1..L, "1,1.5,..."
    # --- fading ---------------------------------------------------------------------------
    fading: str = "rayleigh"  # or "rician"
    rician_k: float = 3.0  # linear K factor (LOS / scattered power); 0 = Rayleigh
    correlated_fading: bool = False  # AR(1) across rounds with rho = J0(2 pi f_D round_s)
    # --- mobility -------------------------------------------------------------------------
    round_s: float = 1.0  # wall-clock time between rounds (mobility step, Doppler lag)
    mobility: str = "road"  # "road": the built-in ring road below; "sumo": SUMO traffic
    # sumo: "highway" | "urban" (generated at first use with SUMO's tools, cached) or a .sumocfg
    scenario: str = "highway"
    sumo_period_s: float = 1.0  # built-in scenarios: mean time between two departures
    sumo_warmup_s: float = 120.0  # SUMO time simulated before round 0 (fills the network)
    rsu_x_m: float | None = None  # sumo: RSU position in network coordinates (None: centre)
    rsu_y_m: float | None = None
    coverage_m: float = 1000.0  # beyond this 2-D distance a vehicle cannot reach the RSU
    road_length_m: float = 1000.0
    n_lanes: int = 2  # even lanes drive +x, odd lanes -x
    lane_width_m: float = 3.5
    speed_min_mps: float = 15.0
    speed_max_mps: float = 30.0
    boundary: str = "wrap"  # "wrap": leave at one end, re-enter at the other; "bounce": U-turn
    rsu_position_m: float = 500.0  # along the road
    rsu_offset_m: float = 10.0  # perpendicular distance from the road's first lane
    # --- path loss ------------------------------------------------------------------------
    ref_distance_m: float = 250.0  # where snr_db is defined (median vehicle distance)
    ref_loss_db: float = 112.6  # path loss at ref_distance_m: FSPL(1 m, 5.9 GHz) + 27 log10(250)
    pathloss_exponent: float = 2.7
    shadowing_db: float = 0.0  # log-normal shadowing std (dB), iid per vehicle per round; 0 = off
    # "log_distance" (the law above) or TR 37.885's V2X models "3gpp_highway" / "3gpp_urban"
    # (LOS / NLOSv / NLOS, the TR's shadowing std and spatial correlation; see pathloss.py)
    pathloss: str = "log_distance"
    rsu_height_m: float = 5.0  # antenna heights for the 3-D distance of the 3GPP models
    vehicle_height_m: float = 1.5

    def validate(self) -> None:
        """Raise DqflError naming the first invalid field."""
        _finite(self, "snr_db")
        if not -100.0 <= self.snr_db <= 100.0:  # beyond this, powers overflow or underflow
            _fail("snr_db", "a number of dB in [-100, 100]", self.snr_db)
        for name in (
            "bandwidth_hz",
            "slot_s",
            "carrier_hz",
            "round_s",
            "road_length_m",
            "lane_width_m",
            "rsu_offset_m",
            "ref_distance_m",
            "pathloss_exponent",
            "sumo_period_s",
            "coverage_m",
            "rsu_height_m",
            "vehicle_height_m",
        ):
            _positive(self, name)
        for name in ("noise_density_dbm_hz", "noise_figure_db", "ref_loss_db", "rsu_position_m"):
            _finite(self, name)
        _finite(self, "sumo_warmup_s")
        if self.sumo_warmup_s < 0:
            _fail("sumo_warmup_s", ">= 0 seconds", self.sumo_warmup_s)
        for name in ("rsu_x_m", "rsu_y_m"):
            if getattr(self, name) is not None:
                _finite(self, name)
        if self.mobility not in MOBILITIES:
            _fail("mobility", f"one of {MOBILITIES}", self.mobility)
        if not isinstance(self.scenario, str) or not (
            self.scenario in SCENARIOS or self.scenario.endswith(".sumocfg")
        ):
            _fail("scenario", f"one of {SCENARIOS} or a path to a .sumocfg file", self.scenario)
        if self.pathloss not in PATHLOSSES:
            _fail("pathloss", f"one of {PATHLOSSES}", self.pathloss)
        if self.bits_per_param not in BITS_PER_PARAM:
            _fail("bits_per_param", f"one of {BITS_PER_PARAM}", self.bits_per_param)
        if self.fading not in FADINGS:
            _fail("fading", f"one of {FADINGS}", self.fading)
        if self.classical_airtime not in ("same_rate", "same_slot"):
            _fail("classical_airtime", "one of ('same_rate', 'same_slot')", self.classical_airtime)
        _finite(self, "rician_k")
        if self.rician_k < 0:
            _fail("rician_k", ">= 0 (linear K factor)", self.rician_k)
        if self.boundary not in BOUNDARIES:
            _fail("boundary", f"one of {BOUNDARIES}", self.boundary)
        if not isinstance(self.n_lanes, int) or isinstance(self.n_lanes, bool) or self.n_lanes < 1:
            _fail("n_lanes", "an integer >= 1", self.n_lanes)
        _finite(self, "speed_min_mps")
        _finite(self, "speed_max_mps")
        if self.speed_min_mps < 0:
            _fail("speed_min_mps", ">= 0", self.speed_min_mps)
        if self.speed_max_mps < self.speed_min_mps:
            _fail("speed_max_mps", f">= speed_min_mps ({self.speed_min_mps})", self.speed_max_mps)
        _finite(self, "shadowing_db")
        if self.shadowing_db < 0:
            _fail("shadowing_db", ">= 0", self.shadowing_db)
        _finite(self, "split_ratio")
        if not 0 < self.split_ratio <= 1:
            _fail("split_ratio", "in (0, 1]", self.split_ratio)
        if self.split_objective not in OBJECTIVES:
            _fail("split_objective", f"one of {OBJECTIVES}", self.split_objective)
        if self.depth_utilities is not None:
            parse_floats("depth_utilities", self.depth_utilities)
        elif self.split_objective == "weighted":
            _fail("depth_utilities", "set when split_objective is 'weighted'", None)
        if self.power_split not in SPLIT_RULES:
            explicit_split(self.power_split)

    def split_for(self, n_blocks: int) -> list[float] | None:
        """The explicit split checked against the number of blocks, or None for a rule."""
        if self.power_split in SPLIT_RULES:
            return None
        split = explicit_split(self.power_split)
        if len(split) != n_blocks:
            _fail("power_split", f"{n_blocks} comma-separated fractions (one per block)", split)
        return split

    def utilities_for(self, n_blocks: int) -> list[float] | None:
        """Per-depth utilities checked against the number of blocks (None if unset)."""
        if self.depth_utilities is None:
            return None
        values = parse_floats("depth_utilities", self.depth_utilities)
        if len(values) != n_blocks:
            _fail("depth_utilities", f"{n_blocks} values (utility of depth 1..L)", values)
        return values


def parse_floats(field: str, text: str) -> list[float]:
    """Parse "a,b,c" into finite floats or raise DqflError about ``channel.<field>``."""
    try:
        values = [float(part) for part in str(text).split(",")]
    except ValueError:
        _fail(field, "comma-separated numbers", text)
    if not values or not all(math.isfinite(v) for v in values):
        _fail(field, "comma-separated finite numbers", text)
    return values


def explicit_split(text: str) -> list[float]:
    """A comma-separated power split: non-negative fractions summing to 1."""
    if not isinstance(text, str):
        _fail("power_split", f"one of {SPLIT_RULES} or comma-separated fractions", text)
    try:
        split = [float(part) for part in text.split(",")]
    except ValueError:
        _fail("power_split", f"one of {SPLIT_RULES} or comma-separated fractions", text)
    if any(not math.isfinite(v) or v < 0 for v in split):
        _fail("power_split", "non-negative fractions", text)
    if abs(sum(split) - 1.0) > 1e-6:
        _fail("power_split", f"fractions summing to 1 (sum is {sum(split):.6g})", text)
    return split


def _fail(field: str, must: str, got: object) -> None:
    raise DqflError(f"channel.{field} must be {must}; got {got!r}")


def _finite(cfg: ChannelConfig, field: str) -> None:
    value = getattr(cfg, field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail(field, "a finite number", value)


def _positive(cfg: ChannelConfig, field: str) -> None:
    _finite(cfg, field)
    if getattr(cfg, field) <= 0:
        _fail(field, "> 0", getattr(cfg, field))
