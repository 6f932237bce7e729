"""`dqfl data preview` writes a readable PNG."""

from __future__ import annotations

from PIL import Image
from typer.testing import CliRunner

from dqfl.data.cli import app


def test_preview_writes_png(tmp_path):
    out = tmp_path / "sub" / "preview.png"
    result = CliRunner().invoke(
        app, ["preview", "--out", str(out), "--n-regions", "2", "--image-size", "8"]
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width > 400 and img.height > 200


def test_preview_rejects_bad_alphabet(tmp_path):
    result = CliRunner().invoke(
        app, ["preview", "--out", str(tmp_path / "p.png"), "--alphabet", "x"]
    )
    assert result.exit_code != 0
    assert not (tmp_path / "p.png").exists()
