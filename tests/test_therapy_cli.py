"""Therapy room: CLI errors are one line and exit code 2; the classifier beats chance."""

from __future__ import annotations

import subprocess
import sys

from dqfl.therapy.classifier import ClassifierConfig, run_classifier


def _dqfl(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from dqfl.cli import main; sys.argv = ['dqfl'] + sys.argv[1:]; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_malformed_patient_file_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"patient_id": "x", "age": 50, "markers": ')
    r = _dqfl("therapy", "plan", "--patient", str(bad))
    assert r.returncode == 2
    assert r.stderr.startswith("error: patient file is not valid JSON")
    assert "Traceback" not in r.stderr


def test_negative_dose_and_missing_file_are_clean_errors(tmp_path):
    from dqfl.therapy import synthetic_patient

    d = synthetic_patient(0)
    d.dose_limits.radio = -2.0
    path = tmp_path / "neg.json"
    path.write_text(d.to_json())
    r = _dqfl("therapy", "plan", "--patient", str(path))
    assert r.returncode == 2 and "patient.dose_limits.radio" in r.stderr
    r = _dqfl("therapy", "plan", "--patient", str(tmp_path / "nope.json"))
    assert r.returncode == 2 and "not found" in r.stderr and "Traceback" not in r.stderr


def test_classifier_beats_chance():
    res = run_classifier(ClassifierConfig(n_samples=200, epochs=40, seed=0))
    assert res["vqc"] > res["chance"] + 0.03
