"""`dqfl channel` through typer's CliRunner."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from dqfl.channel.cli import channel

app = typer.Typer()
app.command()(channel)
runner = CliRunner()
FAST = ["--block-params", "59,59,59,59", "--trials", "20000"]


def test_table_printed() -> None:
    result = runner.invoke(app, ["--snr-db", "10", *FAST])
    assert result.exit_code == 0, result.output
    assert "P(d≥l)" in result.output
    assert "mean delivered depth" in result.output and "vanilla" in result.output


def test_json_has_every_parameter(tmp_path) -> None:
    out = tmp_path / "ch.json"
    result = runner.invoke(
        app, ["--snr-db", "5", "--split", "geometric", "--json", str(out), *FAST]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    for key in (
        "config",
        "power_split",
        "block_bits",
        "thresholds",
        "snr_thresholds",
        "decodable",
        "mean_gain",
        "noise_dbm",
        "tx_power_dbm",
        "superposition",
        "vanilla",
    ):
        assert key in data, key
    assert data["block_bits"] == [59 * data["config"]["bits_per_param"]] * 4
    assert data["config"]["power_split"] == "geometric"
    assert len(data["superposition"]["p_at_least_closed"]) == 4
    assert set(data["vanilla"]) >= {"p_full_closed", "p_full_mc", "mean_depth_mc"}


def test_json_to_stdout_and_undecodable_warning() -> None:
    args = ["--snr-db", "10", "--split", "geometric", "--slot-s", "0.015", "--bits-per-param", "32"]
    args += ["--json", "-", *FAST]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    start = result.stdout.index("{")
    data = json.loads(result.stdout[start:])
    assert data["decodable"][0] is False
    assert data["superposition"]["p_at_least_closed"] == [0.0] * 4
    assert "never be decoded" in result.output


def test_user_errors_are_dqfl_errors() -> None:
    from dqfl.errors import DqflError

    result = runner.invoke(app, ["--split", "0.5,0.5", *FAST])
    assert isinstance(result.exception, DqflError)
    result = runner.invoke(app, ["--bandwidth-hz", "-3", *FAST])
    assert isinstance(result.exception, DqflError)
    assert "channel.bandwidth_hz" in str(result.exception)
