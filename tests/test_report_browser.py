"""report.html in a real headless browser (Chromium via chromedriver): it renders, every image
loads, nothing is fetched from the network. Skipped, with the reason, where no browser is
installed (Debian: apt-get install chromium chromium-driver)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from test_report import _fake_run

from dqfl.report import write_report

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location(
        "check_report_html", ROOT / "experiments" / "check_report_html.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    try:
        module.find_browser()
    except module.Unavailable as exc:
        pytest.skip(f"no headless browser: {exc}")
    return module


def test_report_html_renders_with_every_image(tmp_path: Path) -> None:
    checker = _checker()
    for seed in (0, 1):
        _fake_run(tmp_path, "dqfl", 5.0, seed, [0.3, 0.6 + 0.01 * seed])
        _fake_run(tmp_path, "qfl", 5.0, seed, [0.3, 0.5])
    html = write_report(tmp_path).parent / "report.html"
    page = checker.check(html, screenshot=tmp_path / "shot.png")
    assert page.ok, page
    assert page.title.startswith("dqfl report") and page.tables >= 5
    assert len(page.images) >= 4 and all(i["naturalWidth"] > 100 for i in page.images)
    assert page.text_chars > 500 and (tmp_path / "shot.png").stat().st_size > 10_000
    assert checker.main([str(html)]) == 0


def test_the_check_catches_a_broken_image_and_a_network_request(tmp_path: Path) -> None:
    checker = _checker()
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body><table></table>"
        '<img alt="broken" src="data:image/png;base64,AAAA">'
        '<img alt="remote" src="https://example.invalid/x.png"></body></html>'
    )
    found = checker.check(page)
    assert not found.ok
    assert {i["alt"] for i in found.broken} == {"broken", "remote"}
    assert checker.main([str(page)]) == 1
    assert checker.main([str(tmp_path / "missing.html")]) == 2
