"""Open a report.html in a real headless browser and check that it renders and every image loads.

    python experiments/check_report_html.py results/sweep-default/report/report.html \
        [--screenshot shot.png]

Drives the system's Chromium through chromedriver with Selenium (Debian: `apt-get install
chromium chromium-driver`; `pip install selenium`, in the `dev` extra); nothing is downloaded:
the browser and driver are found on PATH (or named by $DQFL_CHROMIUM / $DQFL_CHROMEDRIVER) and
every host name resolves to nowhere, so a page that needed the network would show it. Checks:
the page has a title, tables and at least one image; every <img> has completed with
naturalWidth > 0; no resource other than data: URIs was requested. Prints one line per image and
"report.html renders: N tables, M images loaded"; exit 0 if all hold, 1 if a check fails, 2 if
no browser is available or the file is missing (one `error:` line).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class Unavailable(Exception):
    """No headless browser here (the reason says what is missing and how to get it)."""


@dataclass
class PageCheck:
    title: str
    tables: int
    images: list[dict] = field(default_factory=list)  # alt, complete, naturalWidth/Height
    external: list[str] = field(default_factory=list)  # resources fetched other than data:
    text_chars: int = 0

    @property
    def broken(self) -> list[dict]:
        return [i for i in self.images if not i["complete"] or i["naturalWidth"] <= 0]

    @property
    def ok(self) -> bool:
        return bool(
            self.title and self.tables and self.images and not self.broken and not self.external
        )


def find_browser() -> tuple[str, str]:
    """(browser binary, chromedriver) or :class:`Unavailable`."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        raise Unavailable("the selenium package is not installed (pip install selenium)") from None
    browser = os.environ.get("DQFL_CHROMIUM") or next(
        (p for name in BROWSERS if (p := shutil.which(name))), None
    )
    driver = os.environ.get("DQFL_CHROMEDRIVER") or shutil.which("chromedriver")
    missing = [n for n, p in (("chromium", browser), ("chromedriver", driver)) if not p]
    if missing:
        raise Unavailable(
            f"no {' and no '.join(missing)} on PATH (Debian: apt-get install chromium "
            "chromium-driver; or set DQFL_CHROMIUM / DQFL_CHROMEDRIVER)"
        )
    return str(browser), str(driver)


_PROBE = """
const images = Array.from(document.images).map(img => ({
  alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth,
  naturalHeight: img.naturalHeight}));
const external = performance.getEntriesByType('resource').map(e => e.name)
  .filter(name => !name.startsWith('data:'));
return {title: document.title, tables: document.querySelectorAll('table').length,
        images: images, external: external, text_chars: document.body.innerText.length};
"""


def check(html: Path, screenshot: Path | None = None, timeout_s: float = 60.0) -> PageCheck:
    """Load ``html`` in headless Chromium and read what it rendered."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",  # runs as root in containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no network, whatever the page asks for
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.set_page_load_timeout(timeout_s)
        driver.get(html.resolve().as_uri())
        WebDriverWait(driver, timeout_s).until(
            lambda d: d.execute_script(
                "return document.readyState === 'complete' && "
                "Array.from(document.images).every(i => i.complete)"
            )
        )
        found = driver.execute_script(_PROBE)
        if screenshot is not None:
            driver.save_screenshot(str(screenshot))
    finally:
        driver.quit()
    return PageCheck(**found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the report.html to open")
    parser.add_argument("--screenshot", type=Path, help="also save what the browser shows (PNG)")
    args = parser.parse_args(argv)
    if not args.html.is_file():
        print(f"error: {args.html} is not a file (run `dqfl report` first)", file=sys.stderr)
        return 2
    try:
        page = check(args.html, args.screenshot)
    except Unavailable as exc:
        print(f"error: no headless browser: {exc}", file=sys.stderr)
        return 2
    for image in page.images:
        state = "BROKEN" if image in page.broken else "ok"
        print(f"  {state:6s} {image['naturalWidth']}x{image['naturalHeight']}  {image['alt']}")
    for name in page.external:
        print(f"  EXTERNAL request: {name}")
    if not page.ok:
        print(
            f"report.html does NOT render cleanly: title {page.title!r}, {page.tables} tables, "
            f"{len(page.images)} images, {len(page.broken)} broken, "
            f"{len(page.external)} external requests"
        )
        return 1
    print(f"report.html renders: {page.tables} tables, {len(page.images)} images loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
