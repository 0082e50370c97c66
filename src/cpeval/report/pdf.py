"""report.pdf: the HTML report printed by headless Chromium (its print stylesheet applies).

Chromium runs with no network, no first-run setup, no sync and a fresh profile in a temporary folder, so
printing leaves nothing behind and loads nothing (the page is self-contained anyway).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from cpeval.errors import OutputError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = ("install Chromium (Debian/Ubuntu: `apt-get install chromium`, the Debian package `chromium`) or "
                "put a Chromium or Chrome executable on PATH")
TIMEOUT = 120  # seconds


def find_browser() -> str:
    """The path of a headless-capable Chromium, or an OutputError saying how to install one."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise OutputError(f"--pdf needs a Chromium browser to print the report, and none was found on PATH "
                      f"(looked for {', '.join(BROWSERS)}); {INSTALL_HINT}")


def headless_command(browser: str, profile: Path, *action: str) -> list[str]:
    """The Chromium command line for one headless action on a fresh profile (``--print-to-pdf=...``,
    ``--dump-dom``, ``--screenshot=...`` followed by the page's URL)."""
    return [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", f"--user-data-dir={profile}", *action]


def html_to_pdf(html: str, browser: str | None = None) -> bytes:
    """The PDF bytes of the HTML page ``html`` (see the module docstring)."""
    browser = browser or find_browser()
    with tempfile.TemporaryDirectory(prefix="cpeval-pdf-") as tmp:
        page, pdf = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        cmd = headless_command(browser, Path(tmp) / "profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                               page.as_uri())
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise OutputError(f"{browser} did not print the report within {TIMEOUT} s") from exc
        if not pdf.exists() or pdf.stat().st_size == 0:
            tail = "\n".join((done.stderr or "").strip().splitlines()[-5:])
            raise OutputError(f"{browser} exited with status {done.returncode} without writing a PDF: {tail}")
        return pdf.read_bytes()
