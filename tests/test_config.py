"""The run configuration: defaults, TOML, --set overrides and the errors a user sees."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dqfl.config import RunConfig, apply_overrides, from_flat, known_keys, load_config
from dqfl.errors import DqflError


def test_embedded_defaults_validate() -> None:
    cfg = load_config()
    assert cfg.federation.method == "dqfl"
    assert cfg.data_config().seed == cfg.seed


def test_set_overrides_convert_types() -> None:
    cfg = load_config(
        None, ["federation.rounds=7", "channel.snr_db=-3.5", "federation.plan_depth=true", "seed=4"]
    )
    assert cfg.federation.rounds == 7
    assert cfg.channel.snr_db == -3.5
    assert cfg.federation.plan_depth is True
    assert cfg.seed == 4
    assert cfg.data_config().seed == 4


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("federation.roundz=3", "federation.roundz"),
        ("nosuch.key=1", "nosuch.key"),
        ("federation.rounds=abc", "federation.rounds must be int"),
        ("federation.rounds=0", "federation.rounds must be > 0"),
        ("federation.method=magic", "dqfl, qfl, classical, centralized"),
        ("federation.plan_depth=maybe", "bool"),
        ("data.seed=3", "top-level `seed`"),
        ("rounds", "key=value"),
    ],
)
def test_bad_override_names_the_key(override: str, fragment: str) -> None:
    with pytest.raises(DqflError, match=None) as info:
        load_config(None, [override])
    assert fragment in str(info.value)


def test_unknown_key_lists_what_is_allowed() -> None:
    with pytest.raises(DqflError) as info:
        load_config(None, ["federation.roundz=3"])
    assert "rounds" in str(info.value)


def test_toml_file_round_trip(tmp_path) -> None:
    cfg = apply_overrides(RunConfig(), ["federation.rounds=3", "channel.snr_db=12"])
    path = tmp_path / "run.toml"
    path.write_text(cfg.to_toml())
    loaded = load_config(path)
    assert loaded.to_dict() == cfg.to_dict()
    assert loaded.fingerprint() == cfg.fingerprint()


def test_toml_errors(tmp_path) -> None:
    bad_section = tmp_path / "bad.toml"
    bad_section.write_text("[federaton]\nrounds = 3\n")
    with pytest.raises(DqflError, match="federaton"):
        load_config(bad_section)
    bad_syntax = tmp_path / "syntax.toml"
    bad_syntax.write_text("[federation\nrounds = 3\n")
    with pytest.raises(DqflError, match="not valid TOML"):
        load_config(bad_syntax)
    wrong_type = tmp_path / "type.toml"
    wrong_type.write_text('[federation]\nrounds = "three"\n')
    with pytest.raises(DqflError, match="federation.rounds"):
        load_config(wrong_type)
    with pytest.raises(DqflError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_flat_round_trip_matches_flower_run_config() -> None:
    cfg = apply_overrides(RunConfig(), ["federation.lr=0.2", "seed=9"])
    flat = cfg.to_flat()
    assert flat["federation.lr"] == 0.2
    assert from_flat(flat).to_dict() == cfg.to_dict()
    assert set(flat) <= set(known_keys())


def _dqfl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dqfl", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "--set", "federation.rounds=abc"], "federation.rounds"),
        (["run", "--set", "model.no_such_key=1"], "model.no_such_key"),
        (["run", "--config", "does-not-exist.toml"], "not found"),
        (["sweep", "--snr-db", "5:1:1"], "--snr-db"),
        (["report", "no-such-results-folder"], "not found"),
        (["run", "--no-such-flag"], "No such option"),
    ],
)
def test_cli_usage_errors_exit_2_without_traceback(
    args: list[str], fragment: str, tmp_path
) -> None:
    result = _dqfl(*args)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
