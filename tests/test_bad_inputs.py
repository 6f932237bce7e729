"""Bad inputs a new user tries, as a table: each is refused before any work with exit code 2, one
`error: ...` line naming the problem, no traceback, and no file written (the working folder is
compared before and after). Runs the real `dqfl` entry point in-process (fast: one import)."""

from __future__ import annotations

import json
import os
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image

from dqfl.config import load_config
from dqfl.federation.results import RunRecorder

Setup = Callable[[Path], None]


def _nothing(tmp: Path) -> None:
    pass


def _write(name: str, data: bytes) -> Setup:
    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(data)

    return setup


def _folder(name: str) -> Setup:
    return lambda tmp: (tmp / name).mkdir(parents=True)


def _crops(tmp: Path) -> None:
    (tmp / "crops" / "3").mkdir(parents=True)
    Image.new("L", (16, 16), 30).save(tmp / "crops" / "3" / "a.png")


def _model(name: str, state: dict | None, raw: bytes | None = None) -> Setup:
    """A run folder whose model.pt holds ``state`` (or the bytes ``raw``)."""

    def setup(tmp: Path) -> None:
        _crops(tmp)
        folder = tmp / name
        if raw is not None:
            folder.mkdir()
            (folder / "model.pt").write_bytes(raw)
            return
        RunRecorder(load_config(None, []), folder).save_model(state)

    return setup


def _patient_with_huge_number(tmp: Path) -> None:
    from dqfl.therapy.patient import synthetic_patient

    data = json.loads(synthetic_patient(0).to_json())
    data["markers"]["pdl1"] = int("9" * 400)
    (tmp / "p.json").write_text(json.dumps(data))


def _finished_run(tmp: Path) -> None:
    rec = RunRecorder(load_config(None, ["federation.rounds=2"]), tmp / "old")
    rec.add_round({"round": 1, "top1": [0.5]})
    rec.finish({})


def _combine(*setups: Setup) -> Setup:
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)

    return setup


# (id, arguments, phrase of the message, setup)
CASES: list[tuple[str, list[str], str, Setup]] = [
    # --- checks that used to come after the engine started (defect 4)
    ("qubits-vs-image", ["run", "--set", "data.image_size=32"], "amplitude encoding", _nothing),
    ("data-root", ["run", "--set", "data.data_root=nowhere"], "data.data_root", _nothing),
    ("font-dir", ["run", "--set", "data.font_dir=nowhere"], "data.font_dir", _nothing),
    (
        "no-readable-image",
        ["run", "--set", "data.data_root=crops"],
        "could be read",
        _write("crops/3/a.png", b"not an image"),
    ),
    (
        "pennylane-device",
        ["run", "--set", "model.backend=pennylane", "--set", "model.device=no.such.device"],
        "not an available PennyLane device",
        _nothing,
    ),
    ("out-under-a-file", ["run", "--out", "f/run"], "f is a file", _write("f", b"x")),
    ("split-length", ["run", "--set", "channel.power_split=0.5,0.5"], "one per block", _nothing),
    (
        "utilities-length",
        ["run", "-s", "channel.split_objective=weighted", "-s", "channel.depth_utilities=1,2"],
        "channel.depth_utilities",
        _nothing,
    ),
    (
        "bad-grid-point",
        ["sweep", "--grid", "data.image_size=16,32", "--methods", "dqfl", "--seeds", "0"],
        "grid point",
        _nothing,
    ),
    # --- sizes beyond memory (defect 5)
    ("samples", ["run", "--set", "data.samples_per_vehicle=1000000000"], "limit of", _nothing),
    ("layers", ["run", "--set", "model.n_layers=1000000000"], "model.n_layers", _nothing),
    ("vehicles", ["run", "--set", "data.n_vehicles=100000000"], "data.n_vehicles", _nothing),
    ("test-set", ["run", "--set", "data.test_per_class=1000000000"], "test_per_class", _nothing),
    ("rounds", ["run", "--set", "federation.rounds=10000000000"], "federation.rounds", _nothing),
    ("grid-size", ["sweep", "--snr-db", "0:20:0.0000001"], "values) needs about", _nothing),
    ("trials", ["channel", "--trials", "10000000000"], "--trials", _nothing),
    # --- unwritable or impossible outputs (defect 6)
    (
        "preview-under-file",
        ["data", "preview", "--out", "f/p.png"],
        "f is a file",
        _write("f", b""),
    ),
    ("preview-folder", ["data", "preview", "--out", "d"], "is a folder", _folder("d")),
    ("preview-extension", ["data", "preview", "--out", "p.xyz"], "unknown file type", _nothing),
    (
        "report-out-file",
        ["report", "old", "--out", "f"],
        "is a file",
        _combine(_finished_run, _write("f", b"")),
    ),  # fmt: skip
    (
        "evaluate-json-folder",
        ["evaluate", "m", "--data-root", "crops", "--json", "d"],
        "is a folder",
        _combine(_model("m", {"w": torch.zeros(1)}), _folder("d")),
    ),
    ("classify-extension", ["therapy", "classify", "--out", "c.xyz"], "unknown file", _nothing),
    (
        "classify-under-file",
        ["therapy", "classify", "--out", "f/c.png"],
        "is a file",
        _write("f", b""),
    ),  # fmt: skip
    ("benchmark-out-file", ["therapy", "benchmark", "--out", "f"], "is a file", _write("f", b"")),
    # --- damaged model files (defect 7)
    (
        "model-random-bytes",
        ["evaluate", "m", "--data-root", "crops"],
        "not a readable dqfl model file",
        _model("m", None, os.urandom(4096)),
    ),
    (
        "model-empty-file",
        ["evaluate", "m", "--data-root", "crops"],
        "0 bytes",
        _model("m", None, b""),
    ),  # fmt: skip
    (
        "model-empty-state",
        ["evaluate", "m", "--data-root", "crops"],
        "empty state dict",
        _model("m", {}),
    ),  # fmt: skip
    (
        "model-wrong-shape",
        ["evaluate", "m", "--data-root", "crops"],
        "does not match",
        _model("m", {"blocks.0.u3": torch.zeros(3, 3)}),
    ),
    # --- invalid numbers (defect 8)
    ("torch-device-name", ["run", "--set", "model.torch_device=gpu"], "torch_device", _nothing),
    ("init-scale-nan", ["run", "--set", "model.init_scale=nan"], "finite", _nothing),
    ("prox-mu-nan", ["run", "--set", "federation.prox_mu=nan"], "federation.prox_mu", _nothing),
    ("lr-inf", ["run", "--set", "federation.lr=inf"], "finite", _nothing),
    ("snr-huge-run", ["run", "--set", "channel.snr_db=1e308"], "channel.snr_db", _nothing),
    ("snr-huge-channel", ["channel", "--snr-db", "1e308"], "channel.snr_db", _nothing),
    ("block-params-zero", ["channel", "--block-params", "0,0"], "--block-params", _nothing),
    # --- smaller ones (defect 9)
    ("binary-toml", ["run", "--config", "c.toml"], "not UTF-8", _write("c.toml", os.urandom(300))),
    ("latin1-toml", ["run", "--config", "c.toml"], "not UTF-8", _write("c.toml", b"\xff[data]")),
    ("config-folder", ["run", "--config", "d"], "is a folder", _folder("d")),
    (
        "unknown-section",
        ["run", "--config", "c.toml"],
        "sections are [data]",
        _write("c.toml", b"[vehicles]\nn = 1\n"),
    ),
    ("seeds-reversed", ["sweep", "--seeds", "5:0"], "--seeds", _nothing),
    ("methods-empty", ["sweep", "--methods", ""], "--methods", _nothing),
    ("grid-empty", ["sweep", "--grid", "federation.lr="], "--grid federation.lr", _nothing),
    ("name-escapes", ["run", "--set", "name=../../x"], "plain folder name", _nothing),
    (
        "patient-400-digits",
        ["therapy", "plan", "--patient", "p.json"],
        "400-digit number",
        _patient_with_huge_number,
    ),
    # --- stale results (defect 3): a finished folder of another configuration
    ("stale-run", ["run", "--out", "old"], "different configuration", _finished_run),
]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()} | {
        str(p.relative_to(root)) + "/": b"" for p in root.rglob("*") if p.is_dir()
    }


@pytest.fixture
def dqfl_cli(monkeypatch, capsys):
    """Run the console entry point in-process; restore what it installs process-wide."""
    from dqfl.cli import main

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    formatwarning = warnings.formatwarning

    def invoke(args: list[str]) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["dqfl", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out + out.err

    yield invoke
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    warnings.formatwarning = formatwarning


@pytest.mark.parametrize(
    ("args", "phrase", "setup"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_refused_up_front(args, phrase, setup, tmp_path, monkeypatch, dqfl_cli):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DQFL_CACHE_DIR", str(tmp_path / ".cache"))
    setup(tmp_path)
    _assert_refused(dqfl_cli, args, phrase, tmp_path)


def _assert_refused(dqfl_cli, args, phrase: str, tmp_path: Path) -> None:
    """Exit 2, one ``error:`` line naming ``phrase``, no traceback, nothing written."""
    before = _tree(tmp_path)
    code, output = dqfl_cli(args)
    assert code == 2, output
    assert phrase in output, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    assert _tree(tmp_path) == before, "files were written"


def _default_model(tmp: Path) -> None:
    from dqfl.federation.common import build

    cfg = load_config(None, [])
    _model("m", build(cfg).state_dict())(tmp)


@pytest.mark.parametrize(
    ("args", "setup"),
    [
        (["run", "--set", "model.torch_device=cuda"], _nothing),
        (["sweep", "--grid", "model.torch_device=cpu,cuda", "--methods", "dqfl"], _nothing),
        (["evaluate", "m", "--data-root", "crops", "--torch-device", "cuda"], _default_model),
    ],
    ids=["run", "sweep", "evaluate"],
)
def test_cuda_on_a_machine_without_cuda_is_refused_up_front(
    args, setup, tmp_path, monkeypatch, dqfl_cli
):
    """CUDA's absence is patched, so the check holds on GPU machines too."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DQFL_CACHE_DIR", str(tmp_path / ".cache"))
    setup(tmp_path)
    phrase = "model.torch_device = 'cuda' but torch sees no CUDA device"
    _assert_refused(dqfl_cli, args, phrase, tmp_path)


def test_config_help_names_the_sections(dqfl_cli) -> None:
    code, output = dqfl_cli(["run", "--help"])
    assert code == 0
    assert "[data], [model]" in " ".join(output.split())


def test_warnings_are_one_clean_line(dqfl_cli) -> None:
    dqfl_cli(["--help"])  # installs the CLI's warning format
    line = warnings.formatwarning("skipped 2 unreadable image file(s)", UserWarning, "x.py", 3)
    assert line == "warning: skipped 2 unreadable image file(s)\n"
