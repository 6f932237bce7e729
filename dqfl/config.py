"""One typed, validated run configuration: TOML in, `--set key=value` overrides, clear errors out.

Each room owns the dataclass of its own section (``[data]``, ``[model]``, ``[channel]``,
``[federation]``); this module only composes them, converts values, rejects unknown keys and
validates once, so the rest of the code can trust what it is given.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dqfl.blocks import FEDBN_LOCAL
from dqfl.channel import ChannelConfig
from dqfl.data import DataConfig
from dqfl.errors import DqflError
from dqfl.federation.faults import FaultConfig
from dqfl.federation.methods import METHODS, method
from dqfl.quantum import ModelConfig
from dqfl.schedules import LR_SCHEDULES, scheduled_lr

STRATEGIES = ("fedavg", "fedprox", "fedbn")  # presets of the vehicle's side; join with "+"
OPTIMIZERS = ("adam", "sgd")
SERVER_OPTS = ("fedavg", "fedavgm", "fedadam", "fedyogi")
AGGREGATORS = ("mean", "median", "trimmed_mean", "krum")


@dataclass
class FederationConfig:
    """How the fleet learns: the method, the vehicle's objective, the server's update.

    Three orthogonal sides: ``strategy`` is the vehicle's side as presets that combine with "+"
    (``fedprox``: proximal term with weight ``prox_mu``; ``fedbn``: ``.norm.`` parameters never
    leave the vehicle; ``fedavg``: neither), ``aggregator`` is the robust mean over the vehicles
    that delivered each block, and ``server_opt`` turns that mean into the new global model.
    """

    method: str = "dqfl"
    strategy: str = "fedavg"
    aggregator: str = "mean"  # mean | median | trimmed_mean | krum
    robust_fraction: float = 0.2  # trimmed_mean: cut from each end; krum: assumed attackers
    # > 0: before aggregating, clip each vehicle's update of each block to this multiple of the
    # lower quartile of that block's update norms over the last CLIP_WINDOW rounds, per unit of
    # each round's step size (dqfl.federation.engine; 0: off)
    clip_updates: float = 0.0
    # > 0: refuse updates with a block norm above this multiple of that quartile (0: off)
    reject_updates: float = 0.0
    server_opt: str = "fedavg"  # fedavg | fedavgm | fedadam | fedyogi
    server_lr: float | None = None  # None: 1.0 for fedavg/fedavgm, 0.1 for fedadam/fedyogi
    server_momentum: float = 0.9  # fedavgm
    server_beta1: float = 0.9  # fedadam/fedyogi first moment
    server_beta2: float = 0.99  # fedadam/fedyogi second moment
    server_tau: float = 1e-3  # fedadam/fedyogi adaptivity
    rounds: int = 20
    fraction: float = 1.0
    local_epochs: int = 3
    batch_size: int = 32
    lr: float = 0.05  # DQNN: rotation angles and their small readout tolerate a large step
    classical_lr: float = 0.005  # the classical MLP's ReLUs die at the DQNN's step size
    lr_schedule: str = "cosine"  # constant | cosine (over rounds, decided by the server)
    optimizer: str = "adam"
    prox_mu: float = 0.01
    distill: float = 0.1  # no harm in the two-seed ablation; see README (not a finding)
    plan_depth: bool = False
    client_timeout_s: float = 600.0
    max_update_norm: float = 1e4
    # CPUs per Ray actor; 0: auto (dqfl.federation.harness.cpus_per_actor: one actor per core,
    # two per core once a round sends many vehicles)
    num_cpus_per_client: float = 0.0

    def learning_rate(self, round_idx: int = 0) -> float:
        """Step size of this run's model in round ``round_idx`` (0-based; the method's own lr).

        ``cosine``: lr_t = lr * (1 + cos(pi t / T)) / 2 for t = 0..T-1 (T = rounds).
        """
        base = float(getattr(self, method(self.method).lr_field))
        return scheduled_lr(self.lr_schedule, base, round_idx, self.rounds)

    def presets(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.strategy.split("+"))

    def vehicle_prox_mu(self) -> float:
        """The proximal weight the vehicles are told (0 unless the fedprox preset is on)."""
        return float(self.prox_mu) if "fedprox" in self.presets() else 0.0

    def local_patterns(self) -> tuple[str, ...]:
        """Key substrings that never leave the vehicle (FedBN's norms when fedbn is on)."""
        return FEDBN_LOCAL if "fedbn" in self.presets() else ()

    def resolved_server_lr(self) -> float:
        for key in ("clip_updates", "reject_updates"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value >= 0):
                raise DqflError(f"federation.{key} must be >= 0; got {value}")
        if self.server_lr is not None:
            return float(self.server_lr)
        return 1.0 if self.server_opt in ("fedavg", "fedavgm") else 0.1

    def validate(self) -> None:
        _choice("federation.method", self.method, tuple(METHODS))
        presets = self.presets()
        for preset in presets:
            _choice("federation.strategy", preset, STRATEGIES)
        if len(set(presets)) != len(presets) or ("fedavg" in presets and len(presets) > 1):
            raise DqflError(
                f"federation.strategy combines fedprox and fedbn with '+' (fedavg alone); "
                f"got {self.strategy!r}"
            )
        _choice("federation.optimizer", self.optimizer, OPTIMIZERS)
        _choice("federation.server_opt", self.server_opt, SERVER_OPTS)
        _choice("federation.aggregator", self.aggregator, AGGREGATORS)
        _choice("federation.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if not 0.0 <= self.robust_fraction < 0.5:
            raise DqflError(
                f"federation.robust_fraction must be in [0, 0.5); got {self.robust_fraction}"
            )
        for key in ("clip_updates", "reject_updates"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value >= 0):
                raise DqflError(f"federation.{key} must be >= 0; got {value}")
        if self.server_lr is not None:
            _positive("federation.server_lr", self.server_lr)
        for key in ("server_momentum", "server_beta1", "server_beta2"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise DqflError(f"federation.{key} must be in [0, 1); got {getattr(self, key)}")
        _positive("federation.server_tau", self.server_tau)
        _positive("federation.rounds", self.rounds)
        _positive("federation.local_epochs", self.local_epochs)
        _positive("federation.batch_size", self.batch_size)
        _positive("federation.lr", self.lr)
        _positive("federation.classical_lr", self.classical_lr)
        _positive("federation.client_timeout_s", self.client_timeout_s)
        _positive("federation.max_update_norm", self.max_update_norm)
        cpus = self.num_cpus_per_client
        if not (math.isfinite(cpus) and cpus >= 0):
            raise DqflError(f"federation.num_cpus_per_client must be >= 0 (0: auto); got {cpus}")
        if not 0.0 < self.fraction <= 1.0:
            raise DqflError(f"federation.fraction must be in (0, 1]; got {self.fraction}")
        if self.prox_mu < 0:
            raise DqflError(f"federation.prox_mu must be >= 0; got {self.prox_mu}")
        if self.distill < 0:
            raise DqflError(f"federation.distill must be >= 0; got {self.distill}")


@dataclass
class RunConfig:
    """Everything one federation run needs; ``seed`` drives data, training and channel alike."""

    seed: int = 0
    output_dir: str = "results"
    name: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    channel: ChannelConfig = field(default_factory=ChannelConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)

    def validate(self) -> RunConfig:
        if self.seed < 0:
            raise DqflError(f"seed must be >= 0; got {self.seed}")
        if self.name and (
            self.name in (".", "..") or "/" in self.name or "\\" in self.name or "\0" in self.name
        ):
            raise DqflError(
                f"name must be a plain folder name (no '/', not '.' or '..'); got {self.name!r}"
            )
        self.data.seed = self.seed  # one seed drives the whole run
        for section in SECTIONS:
            getattr(self, section).validate()
        faults = self.faults
        if faults.straggler_fraction > 0 and (
            faults.straggler_delay_s <= self.federation.client_timeout_s
        ):
            raise DqflError(
                f"faults.straggler_delay_s ({faults.straggler_delay_s:g}) must exceed "
                f"federation.client_timeout_s ({self.federation.client_timeout_s:g}) "
                "for stragglers to miss the round"
            )
        return self

    def data_config(self) -> DataConfig:
        """The data section with the run's seed applied (one seed drives the whole run)."""
        return dataclasses.replace(self.data, seed=self.seed)

    def run_name(self) -> str:
        """A readable folder name: explicit `name`, else method, channel quality and seed."""
        if self.name:
            return self.name
        f = self.federation
        return f"{f.method}-{f.strategy}-snr{self.channel.snr_db:g}-seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["data"].pop("seed", None)  # derived from the top-level seed
        return values

    def to_flat(self) -> dict[str, Any]:
        """Dotted keys (``federation.rounds``), the shape of Flower's run config."""
        flat: dict[str, Any] = {}
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                flat.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                flat[key] = value
        return {k: _flat_value(v) for k, v in flat.items() if v is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def fingerprint(self) -> str:
        """Short hash of the whole config: a sweep uses it to recognise finished points."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    def identity(self) -> dict[str, Any]:
        """The dotted keys that decide a run's results (where they are written and the data
        cache's folder do not): finished results are reused only when these all match."""
        return {k: v for k, v in self.to_flat().items() if k not in RESULT_NEUTRAL_KEYS}

    def to_toml(self) -> str:
        lines = []
        for key, value in self.to_dict().items():
            if not isinstance(value, dict):
                lines.append(f"{key} = {_toml_value(value)}")
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                lines.append(f"\n[{key}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "\n".join(lines) + "\n"


#: Keys that change where or how fast a run goes, never its numbers.
RESULT_NEUTRAL_KEYS = (
    "output_dir",
    "name",
    "data.cache_dir",
    "federation.client_timeout_s",
    "federation.num_cpus_per_client",
    "model.torch_device",  # same circuit and seeds; a GPU differs only in float rounding
)

SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "channel": ChannelConfig,
    "federation": FederationConfig,
    "faults": FaultConfig,
}
_TOP_LEVEL = {f.name: f for f in dataclasses.fields(RunConfig) if f.name not in SECTIONS}


def from_dict(values: dict[str, Any]) -> RunConfig:
    """Build a config from nested (TOML-shaped) values; unknown keys are rejected by name."""
    cfg = RunConfig()
    for key, value in values.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise DqflError(f"[{key}] must be a table of settings; got {value!r}")
            for sub_key, sub_value in value.items():
                _assign(cfg, f"{key}.{sub_key}", sub_value, from_text=False)
        elif isinstance(value, dict):
            raise DqflError(
                f"unknown config section [{key}]; sections are "
                f"{', '.join(f'[{s}]' for s in SECTIONS)}"
            )
        else:
            _assign(cfg, key, value, from_text=False)
    return cfg


def from_flat(values: dict[str, Any]) -> RunConfig:
    """Build a config from dotted keys (Flower's run config); keys we do not own are ignored."""
    cfg = RunConfig()
    for key, value in values.items():
        if key in _TOP_LEVEL or key.split(".", 1)[0] in SECTIONS:
            _assign(cfg, key, value, from_text=isinstance(value, str))
    return cfg.validate()


def from_json(text: str) -> RunConfig:
    return from_dict(json.loads(text)).validate()


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply ``key=value`` strings (``federation.rounds=5``) on a copy of ``cfg``."""
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        if "=" not in item:
            raise DqflError(f"--set expects key=value (e.g. federation.rounds=5); got {item!r}")
        key, text = item.split("=", 1)
        _assign(cfg, key.strip(), text.strip(), from_text=True)
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """The one entry point: embedded defaults, then the TOML file, then ``--set`` overrides."""
    cfg = RunConfig()
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise DqflError(f"--config {path} is a folder; give a TOML file")
        if not path.is_file():
            raise DqflError(f"config file not found: {path}")
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise DqflError(f"{path} is not a TOML file (not UTF-8 text)") from None
        except OSError as exc:
            raise DqflError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            cfg = from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise DqflError(f"{path} is not valid TOML: {exc}") from None
    return apply_overrides(cfg, overrides or []).validate()


def known_keys() -> list[str]:
    keys = list(_TOP_LEVEL)
    for name, cls in SECTIONS.items():
        keys += [f"{name}.{f.name}" for f in dataclasses.fields(cls)]
    return keys


def _assign(cfg: RunConfig, key: str, value: Any, *, from_text: bool) -> None:
    if "." in key:
        section_name, attr = key.split(".", 1)
        if section_name not in SECTIONS:
            raise DqflError(f"unknown config key {key!r}; sections are {sorted(SECTIONS)}")
        target = getattr(cfg, section_name)
        fields = {f.name: f for f in dataclasses.fields(target)}
        if attr not in fields or (section_name == "data" and attr == "seed"):
            allowed = sorted(n for n in fields if not (section_name == "data" and n == "seed"))
            hint = " (the run's top-level `seed` drives the data)" if attr == "seed" else ""
            raise DqflError(f"unknown config key {key!r}{hint}; [{section_name}] accepts {allowed}")
        field_type = _resolve_type(type(target), attr)
    else:
        if key not in _TOP_LEVEL:
            raise DqflError(f"unknown config key {key!r}; top-level keys are {sorted(_TOP_LEVEL)}")
        target, attr = cfg, key
        field_type = _resolve_type(RunConfig, attr)
    setattr(target, attr, _convert(key, value, field_type, from_text))


def _resolve_type(cls: type, attr: str) -> Any:
    return typing.get_type_hints(cls)[attr]


def _convert(key: str, value: Any, field_type: Any, from_text: bool) -> Any:
    """Coerce one value to its field's type, or say which key wanted what."""
    origin = typing.get_origin(field_type)
    args = typing.get_args(field_type)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None or (from_text and str(value).lower() in ("none", "null", "")):
            return None
        inner = next(a for a in args if a is not type(None))
        return _convert(key, value, inner, from_text)
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise DqflError(f"{key} must be a list of numbers; got {value!r}")
        return tuple(_convert(key, item, args[0], True) for item in items if str(item).strip())
    try:
        if field_type is bool:
            if isinstance(value, bool):
                return value
            if from_text and str(value).lower() in ("true", "1", "yes", "on"):
                return True
            if from_text and str(value).lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if field_type is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if from_text:
                return int(str(value).strip())
            raise ValueError
        if field_type is float:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int | float):
                number = float(value)
            elif from_text:
                number = float(str(value).strip())
            else:
                raise ValueError
            if not math.isfinite(number):
                raise DqflError(f"{key} must be a finite number; got {value!r}")
            return number
        if field_type is str:
            if isinstance(value, str):
                return value
            if from_text or isinstance(value, int | float):
                return str(value)
            raise ValueError
    except (ValueError, OverflowError):
        pass
    else:
        return value
    type_name = getattr(field_type, "__name__", str(field_type))
    if field_type is bool:
        type_name = "bool (true or false)"
    raise DqflError(f"{key} must be {type_name}; got {value!r}")


def _flat_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DqflError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")


def _positive(key: str, value: float) -> None:
    if not value > 0:
        raise DqflError(f"{key} must be > 0; got {value}")
