"""The HTML report in a real browser: headless Chromium renders each example report with no console message,
takes a phone-sized screenshot (kept under the test's tmp folder), and prints the PDF that `--pdf` writes.

Outside CI, where Chromium may be missing, these tests skip and say how to install it; under CI=true a missing
browser fails them (.ci/run installs Debian's `chromium`).
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from _support import DESIGNS
from cpeval.report.pdf import INSTALL_HINT, headless_command
from test_report_html import KINDS

# With --enable-logging=stderr, every console message (console.* calls, uncaught exceptions, resources the page
# could not load) is logged as ":CONSOLE..." ; the report has no script, so it should log none.
CONSOLE = re.compile(r":CONSOLE[:(]|Uncaught|Failed to load resource|net::ERR_")


@pytest.fixture(scope="module")
def browser():
    from cpeval.errors import OutputError
    from cpeval.report.pdf import find_browser

    try:
        return find_browser()
    except OutputError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must provide Chromium: {INSTALL_HINT}")
        pytest.skip(f"no Chromium on PATH; to run the browser tests, {INSTALL_HINT}")


def run_browser(browser: str, tmp_path, *action: str) -> subprocess.CompletedProcess[str]:
    cmd = headless_command(browser, tmp_path / "profile", "--enable-logging=stderr", "--v=0", *action)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def test_the_console_check_catches_an_error(browser, tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("boom")</script></body></html>')
    done = run_browser(browser, tmp_path, "--dump-dom", page.as_uri())
    assert any("boom" in m for m in console_messages(done.stderr)), done.stderr[-2000:]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_example_report_renders_without_console_errors(browser, tmp_path, kind):
    from cpeval import evaluate
    from cpeval.report import render_html

    html = render_html(evaluate(DESIGNS / KINDS[kind], quiet=True))
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    dom = run_browser(browser, tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert not console_messages(dom.stderr), console_messages(dom.stderr)
    assert 'id="part-summary"' in dom.stdout and 'id="part-appendix"' in dom.stdout
    assert dom.stdout.count("<img") == html.count("<img") > 0

    shot = tmp_path / f"{kind}_phone.png"
    done = run_browser(browser, tmp_path, f"--screenshot={shot}", "--window-size=412,2400", "--hide-scrollbars",
                       page.as_uri())
    assert not console_messages(done.stderr), console_messages(done.stderr)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000  # kept in tmp_path


def test_pdf_route(browser, tmp_path):
    from cpeval.cli import main

    out = tmp_path / "out"
    assert main(["run", str(DESIGNS / KINDS["did"]), "--out", str(out), "--pdf", "--quiet"]) == 0
    pdf = (out / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2  # the report runs over more than one A4 page
    assert (out / "report.html").exists() and (out / "report.md").exists()


def test_pdf_without_a_browser_names_the_package(tmp_path, monkeypatch, capsys):
    from cpeval.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no browser here
    out = tmp_path / "out"
    assert main(["run", str(DESIGNS / KINDS["did"]), "--out", str(out), "--pdf", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Chromium" in err and "apt-get install chromium" in err and "Traceback" not in err
    assert not out.exists()  # refused before any work
