"""Synthetic patients: a seeded generative model, JSON in/out and validation.

The generative model is deliberately simple and documented so that results can be reproduced and
argued about; it is *not* calibrated on clinical data. Draws for ``synthetic_patient(seed)``:

* age ~ U{35..85}
* markers: PD-L1 tumour proportion score ~ Beta(0.8, 2); tumour mutational burden (mut/Mb)
  ~ LogNormal(ln 6, 0.8) clipped to [0.5, 80]; HER2-like chemo-sensitivity score ~ Beta(1.2, 3);
  EGFR-like radio-resistance score ~ Beta(1.2, 3)
* history: prior chemotherapy with probability 0.5, its response (fractional shrinkage)
  ~ Beta(2, 2);
  prior radiotherapy with probability 0.3, using a fraction U(0.2, 0.8) of the lifetime
  radiation limit; prior immunotherapy with probability 0.15, response ~ Beta(2, 3)
* organ function: renal GFR (ml/min/1.73m^2) ~ N(85 - 0.4 (age - 60), 18) clipped to [15, 130];
  bilirubin (x upper limit of normal) ~ LogNormal(0, 0.35) clipped to [0.3, 4];
  cardiac LVEF (%) ~ N(60, 7) clipped to [25, 75]; ECOG performance status in {0,1,2,3} with
  probabilities depending on age; comorbidity count ~ Poisson(0.6 + 0.02 (age - 50)^+)
* dose limits (max cumulative dose, in standard-course units, one unit = one slot at full dose):
  chemo 2.0 (1.0 if GFR < 45 or LVEF < 45), radio 2 (1 - prior fraction used) rounded to 0.5,
  immuno 2.0 (1.0 after an immune-related failure, i.e. prior immuno response < 0.2).
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from dqfl.errors import DqflError

MODALITIES: tuple[str, ...] = ("chemo", "radio", "immuno")


@dataclass
class Markers:
    """Tumour genomic markers (synthetic, scores normalised as documented in the module)."""

    pdl1: float  # PD-L1 tumour proportion score, fraction in [0, 1]
    tmb: float  # tumour mutational burden, mutations per megabase, >= 0
    her2: float  # HER2-like chemo-sensitivity score in [0, 1]
    egfr: float  # EGFR-like radio-resistance score in [0, 1]


@dataclass
class History:
    """Prior treatment history; a response of None means the modality was never given."""

    prior_chemo_response: float | None = None  # fractional tumour shrinkage in [0, 1]
    prior_radio_fraction: float = 0.0  # fraction of the lifetime radiation limit used, [0, 1]
    prior_immuno_response: float | None = None  # fractional tumour shrinkage in [0, 1]


@dataclass
class OrganFunction:
    """Organ function and comorbidity, which scale toxicity."""

    renal_gfr: float  # ml/min/1.73m^2, > 0
    bilirubin_uln: float  # bilirubin as a multiple of the upper limit of normal, > 0
    cardiac_lvef: float  # left-ventricular ejection fraction, percent in [10, 90]
    ecog: int  # ECOG performance status 0 (fully active) .. 4 (bed-bound)
    comorbidities: int = 0  # count of relevant comorbidities, >= 0


@dataclass
class DoseLimits:
    """Maximum cumulative dose per modality, in standard-course units (>= 0)."""

    chemo: float = 2.0
    radio: float = 2.0
    immuno: float = 2.0

    def of(self, modality: str) -> float:
        return float(getattr(self, modality))


@dataclass
class Weights:
    """Weights of the four cost terms; patient-specific unless the patient file overrides them."""

    eff: float = 1.0
    tox: float = 1.0
    sched: float = 0.5
    dose: float = 0.5


@dataclass
class Patient:
    """One (synthetic or user-supplied) patient; see the module docstring for the meaning."""

    patient_id: str
    age: int
    markers: Markers
    history: History
    organ: OrganFunction
    dose_limits: DoseLimits = field(default_factory=DoseLimits)
    weights: Weights | None = None  # None: derived from frailty by :func:`patient_weights`

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def from_dict(cls, data: Any) -> Patient:
        """Build and validate a patient from parsed JSON; errors name the offending field."""
        if not isinstance(data, dict):
            raise DqflError(f"patient must be a JSON object; got {type(data).__name__}")
        _check_keys("patient", data, cls)
        weights_raw = data.get("weights")
        patient = cls(
            patient_id=_str(data, "patient_id", "patient"),
            age=_int(data, "age", "patient"),
            markers=_section(data, "markers", Markers),
            history=_section(data, "history", History),
            organ=_section(data, "organ", OrganFunction),
            dose_limits=_section(data, "dose_limits", DoseLimits)
            if "dose_limits" in data
            else DoseLimits(),
            weights=None if weights_raw is None else _section(data, "weights", Weights),
        )
        patient.validate()
        return patient

    @classmethod
    def from_json(cls, text: str) -> Patient:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DqflError(
                f"patient file is not valid JSON: {exc.msg} (line {exc.lineno})"
            ) from None
        except ValueError as exc:  # e.g. an integer longer than Python parses
            raise DqflError(f"patient file is not usable JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> Patient:
        p = Path(path)
        if not p.is_file():
            raise DqflError(f"patient file not found: {p}")
        try:
            text = p.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise DqflError(f"cannot read patient file {p}: {exc}") from None
        return cls.from_json(text)

    # ----------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise DqflError naming the first field outside its documented range."""
        _rng("patient.age", self.age, 0, 120)
        m = self.markers
        _rng("patient.markers.pdl1", m.pdl1, 0.0, 1.0)
        _rng("patient.markers.tmb", m.tmb, 0.0, 1000.0)
        _rng("patient.markers.her2", m.her2, 0.0, 1.0)
        _rng("patient.markers.egfr", m.egfr, 0.0, 1.0)
        h = self.history
        if h.prior_chemo_response is not None:
            _rng("patient.history.prior_chemo_response", h.prior_chemo_response, 0.0, 1.0)
        if h.prior_immuno_response is not None:
            _rng("patient.history.prior_immuno_response", h.prior_immuno_response, 0.0, 1.0)
        _rng("patient.history.prior_radio_fraction", h.prior_radio_fraction, 0.0, 1.0)
        o = self.organ
        if not o.renal_gfr > 0:
            raise DqflError(f"patient.organ.renal_gfr must be > 0; got {o.renal_gfr}")
        if not o.bilirubin_uln > 0:
            raise DqflError(f"patient.organ.bilirubin_uln must be > 0; got {o.bilirubin_uln}")
        _rng("patient.organ.cardiac_lvef", o.cardiac_lvef, 10.0, 90.0)
        _rng("patient.organ.ecog", o.ecog, 0, 4)
        _rng("patient.organ.comorbidities", o.comorbidities, 0, 50)
        for name in MODALITIES:
            value = self.dose_limits.of(name)
            if value < 0:
                raise DqflError(
                    f"patient.dose_limits.{name} must be >= 0 (standard-course units); got {value}"
                )
            if value > 100:
                raise DqflError(f"patient.dose_limits.{name} must be <= 100; got {value}")
        if self.weights is not None:
            for f in fields(Weights):
                value = getattr(self.weights, f.name)
                if value < 0:
                    raise DqflError(f"patient.weights.{f.name} must be >= 0; got {value}")
            if self.weights.dose <= 0:
                raise DqflError(
                    "patient.weights.dose must be > 0 (it carries the hard dose constraints); "
                    f"got {self.weights.dose}"
                )


def patient_weights(patient: Patient) -> Weights:
    """Cost weights: toxicity matters more for frail patients (ECOG, age, comorbidities).

    w_tox = 1 + 0.25 ECOG + 0.1 comorbidities + 0.3 [age >= 75]; the other weights are the
    defaults of :class:`Weights`. A ``weights`` section in the patient file overrides this.
    """
    if patient.weights is not None:
        return patient.weights
    o = patient.organ
    w_tox = 1.0 + 0.25 * o.ecog + 0.1 * min(o.comorbidities, 5) + (0.3 if patient.age >= 75 else 0)
    return Weights(tox=round(w_tox, 4))


def synthetic_patient(seed: int) -> Patient:
    """Draw one synthetic patient from the generative model in the module docstring."""
    if seed < 0:
        raise DqflError(f"patient seed must be >= 0; got {seed}")
    rng = np.random.default_rng([seed, 20250901])
    age = int(rng.integers(35, 86))
    markers = Markers(
        pdl1=_r(rng.beta(0.8, 2.0)),
        tmb=_r(float(np.clip(rng.lognormal(math.log(6.0), 0.8), 0.5, 80.0))),
        her2=_r(rng.beta(1.2, 3.0)),
        egfr=_r(rng.beta(1.2, 3.0)),
    )
    prior_chemo = rng.random() < 0.5
    chemo_resp = _r(rng.beta(2.0, 2.0))
    prior_radio = rng.random() < 0.3
    radio_frac = _r(rng.uniform(0.2, 0.8))
    prior_immuno = rng.random() < 0.15
    immuno_resp = _r(rng.beta(2.0, 3.0))
    history = History(
        prior_chemo_response=chemo_resp if prior_chemo else None,
        prior_radio_fraction=radio_frac if prior_radio else 0.0,
        prior_immuno_response=immuno_resp if prior_immuno else None,
    )
    old = max(0.0, (age - 60) / 25.0)  # 0 below 60, 1 at 85
    ecog_p = np.array([0.40 - 0.2 * old, 0.38, 0.17 + 0.12 * old, 0.05 + 0.08 * old])
    organ = OrganFunction(
        renal_gfr=_r(float(np.clip(rng.normal(85 - 0.4 * (age - 60), 18), 15, 130)), 1),
        bilirubin_uln=_r(float(np.clip(rng.lognormal(0.0, 0.35), 0.3, 4.0))),
        cardiac_lvef=_r(float(np.clip(rng.normal(60, 7), 25, 75)), 1),
        ecog=int(rng.choice(4, p=ecog_p / ecog_p.sum())),
        comorbidities=int(rng.poisson(0.6 + 0.02 * max(0, age - 50))),
    )
    chemo_max = 1.0 if (organ.renal_gfr < 45 or organ.cardiac_lvef < 45) else 2.0
    radio_max = round(2.0 * (1.0 - history.prior_radio_fraction) * 2) / 2
    immuno_failed = (
        history.prior_immuno_response is not None and history.prior_immuno_response < 0.2
    )
    limits = DoseLimits(chemo=chemo_max, radio=radio_max, immuno=1.0 if immuno_failed else 2.0)
    return Patient(f"synthetic-{seed}", age, markers, history, organ, limits)


# ----------------------------------------------------------------- helpers
def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


def _check_keys(where: str, data: dict, cls: type) -> None:
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise DqflError(
            f"{where}: unknown field '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})"
        )


def _section(data: dict, key: str, cls: type) -> Any:
    where = f"patient.{key}"
    if key not in data:
        raise DqflError(f"{where} is missing")
    raw = data[key]
    if not isinstance(raw, dict):
        raise DqflError(f"{where} must be a JSON object; got {type(raw).__name__}")
    _check_keys(where, raw, cls)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in raw:
            if f.default is not MISSING or f.default_factory is not MISSING:
                continue
            raise DqflError(f"{where}.{f.name} is missing")
        value = raw[f.name]
        ftype = str(f.type)
        name = f"{where}.{f.name}"
        if value is None and "None" in ftype:
            kwargs[f.name] = None
        elif ftype.startswith("int"):
            kwargs[f.name] = _as_int(value, name)
        else:
            kwargs[f.name] = _as_float(value, name)
    return cls(**kwargs)


def _as_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DqflError(f"{name} must be a number; got {json.dumps(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        shown = str(value) if len(str(value)) <= 30 else f"a {len(str(value))}-digit number"
        raise DqflError(f"{name} must be a finite number; got {shown}")
    return number


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DqflError(f"{name} must be an integer; got {json.dumps(value)}")
    return value


def _int(data: dict, key: str, where: str) -> int:
    if key not in data:
        raise DqflError(f"{where}.{key} is missing")
    return _as_int(data[key], f"{where}.{key}")


def _str(data: dict, key: str, where: str) -> str:
    value = data.get(key, "patient")
    if not isinstance(value, str):
        raise DqflError(f"{where}.{key} must be a string; got {json.dumps(value)}")
    return value


def _rng(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        shown = str(value) if len(str(value)) <= 30 else f"a {len(str(value))}-digit number"
        raise DqflError(f"{name} must be in [{lo}, {hi}]; got {shown}")
