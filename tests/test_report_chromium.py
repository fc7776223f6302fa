"""The HTML report, opened in a real browser (headless Chromium), shows the B3 counterexample:
both processes and both hook_created events of the hook that I-H1 says was created twice.

Skipped when no Chromium is installed, except under CI (CI set), where that is a failure.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from html import unescape

import pytest

from sim import registry
from sim.explore import explore, make_trace
from sim.report import html
from sim.strategy import make

TIMEOUT = 60


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("no chromium binary on PATH, and CI is set: CI must install the chromium package")
    pytest.skip("no chromium binary on PATH (install the Debian package `chromium` to run this test)")


def _run(browser: str, profile, *args: str) -> subprocess.CompletedProcess:
    # a throwaway profile: never touch the user's; stderr is ignored (the Debian wrapper prints noise)
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)


def _visible_text(dom: str) -> str:
    body = re.sub(r"<(style|script|title)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture(scope="module")
def b3():
    s = registry.get("hook-pairs@local:B3")
    res = explore(s, make("portfolio", 3))
    assert res.violation is not None and res.violation.invariant == "I-H1"
    return make_trace(s, res.tape, strategy=res.strategy, execution=res.found_at)


def test_the_page_shows_both_processes_and_both_hook_created_events(b3, tmp_path):
    browser = _chromium()
    page = tmp_path / "b3.html"
    page.write_text(html(b3), encoding="utf-8")
    out = _run(browser, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert out.returncode == 0 and "</html>" in out.stdout, "chromium did not render the page"
    text = _visible_text(out.stdout)

    hook = re.search(r"for hook (\S+)", b3.verdict.message).group(1)
    shown = re.findall(rf"published hook_created {re.escape(hook)} (\S+)", text)
    expected = sorted({n.split()[-1] for s in b3.steps for n in s.notes
                       if n.startswith(f"published hook_created {hook} ")})
    assert len(expected) == 2
    assert sorted(set(shown)) == expected
    headers = re.search(r"step (p\d+) (p\d+)", text)     # the process header row of the table
    assert headers and headers.groups() == ("p1", "p2")
    assert f"{b3.verdict.invariant} violated at step {b3.verdict.step}" in text


def test_the_page_renders_to_a_screenshot(b3, tmp_path):
    browser = _chromium()
    page = tmp_path / "b3.html"
    page.write_text(html(b3), encoding="utf-8")
    shot = tmp_path / "b3.png"
    _run(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,1600", page.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 1600)
    assert len(data) > 50_000     # a blank page compresses to a few kB; the timeline is dense text
