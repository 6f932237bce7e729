"""The user's workflow through the real `dqfl` command: sweep (resumable), report, evaluate.

The centralised method runs in-process, so this exercises the CLI plumbing without starting Ray;
the Flower engine itself is covered end to end in test_federation_sim.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from dqfl.cli import app

TINY = [
    "--set", "data.n_vehicles=2", "--set", "data.samples_per_vehicle=24",
    "--set", "data.test_per_class=2", "--set", "data.image_size=8", "--set", "model.n_qubits=6",
    "--set", "model.n_layers=2", "--set", "federation.rounds=1",
    "--set", "federation.local_epochs=1",
]  # fmt: skip


def _invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _digit_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for digit in ("3", "7"):
        (root / digit).mkdir(parents=True)
        for i in range(3):
            pixels = (rng.random((20, 20)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / digit / f"{i}.png")
    return root


def test_sweep_resumes_then_report_and_evaluate(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DQFL_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "sweep"
    grid = ["sweep", *TINY, "--methods", "centralized", "--snr-db", "0,10", "--seeds", "0"]
    first = _invoke(*grid, "--out", str(out))
    runs = sorted(p.parent for p in out.rglob("summary.json"))
    assert [p.name for p in runs] == ["centralized-snr0-seed0", "centralized-snr10-seed0"]
    stamps = [(p / "summary.json").stat().st_mtime_ns for p in runs]
    assert "skipped" not in first.output

    again = _invoke(*grid, "--out", str(out))
    assert again.output.count("skipped") == 2
    assert [(p / "summary.json").stat().st_mtime_ns for p in runs] == stamps

    _invoke("report", str(out))
    report = (out / "report" / "report.md").read_text()
    assert "centralized" in report and "acc_vs_quality.png" in report
    assert "on the novel set" in report

    crops = _digit_folder(tmp_path / "crops")
    result_file = tmp_path / "eval.json"
    shown = _invoke("evaluate", str(runs[0]), "--data-root", str(crops), "--json", str(result_file))
    assert "novel set" in shown.output and "synthetic held-out" in shown.output
    rows = json.loads(result_file.read_text())
    assert len(rows[0]["novel_top1"]) == len(rows[0]["held_out_top1"]) == 2
    assert rows[0]["n_images"] == 6
    assert len(rows[0]["top1"]) == 2
    assert all(0.0 <= a <= 1.0 for a in rows[0]["top1"])
