"""Fixtures shared by several test modules: a headless Chromium driven by selenium, one torch thread for grading, a
`proofcheck serve` process with an HTTP client."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (selenium) with a fresh profile, its console log kept; skips where it is not installed."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[test]')")
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Chromium and chromedriver not installed (CI installs Debian's chromium and chromium-driver; "
                    "see .ci/run)")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="proofcheck-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 f"--user-data-dir={profile}", "--window-size=1200,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Grade as the grading commands do: answers are tiny batches, and threads only add overhead."""
    from checkers.verify import torch_threads

    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def server():
    """A warm `proofcheck serve --workers 2` for one test module, stopped with SIGTERM at its end."""
    from serve_process import Server

    with Server("--workers", "2") as s:
        s.wait_ready()
        yield s
        s.stop()


@pytest.fixture(scope="module")
def client(server):
    """An httpx client of the module's server."""
    httpx = pytest.importorskip("httpx", reason="httpx not installed (pip install -e '.[test]')")
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c
