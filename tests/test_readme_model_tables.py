"""The README's parameter-count and payload table describes the default model as built."""

import re
from pathlib import Path

from dqfl.config import RunConfig
from dqfl.federation import common

README = Path(__file__).resolve().parents[1] / "README.md"


def _row(label: str) -> list[int]:
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| {label}"):
            cells = line.strip("|").split("|")[1:]
            return [int(re.sub(r"[^0-9]", "", c.split("(")[0])) for c in cells]
    raise AssertionError(f"README has no row starting with {label!r}")


def test_parameter_and_payload_table_matches_the_default_model():
    cfg = RunConfig()
    model = common.build(cfg)
    counts = model.parameter_counts()
    assert _row("quantum (U3 + CU3 angles)") == counts["quantum"] + [counts["total_quantum"]]
    assert _row("classical (readout)") == counts["classical"] + [counts["total_classical"]]
    bits = common.payload_bits(cfg, model)
    label = f"uplink block at {cfg.channel.bits_per_param} bit/param"
    assert _row(label) == bits + [sum(bits)]
