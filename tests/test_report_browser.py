"""The HTML reports in a real browser: headless Chromium opens index.html, follows a link, and lays out the MathML."""

import os
import shutil
from pathlib import Path

import pytest

from checkers.reporting.build import BuildOptions, build_reports
from proofs.gaussian_change_of_variables import DERIVATIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="Chromium and chromedriver not installed (CI installs Debian's chromium and "
                                       "chromium-driver; see .ci/run)")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    options = BuildOptions(out_dir=root / "out", formats=("html",), derivations=DERIVATIONS, devices=("cpu",),
                           instances=200, cache_dir=root / "cache")
    assert build_reports(options).passed
    return options.out_dir


LAYOUT = """
const maths = Array.from(document.querySelectorAll('math'));
const boxes = maths.map(m => m.getBoundingClientRect());
const frac = document.querySelector('math mfrac');
const [num, den] = frac ? Array.from(frac.children).map(c => c.getBoundingClientRect()) : [null, null];
return {count: maths.length,
        empty: boxes.filter(b => b.width <= 0 || b.height <= 0).length,
        mathml: maths.every(m => m.namespaceURI === 'http://www.w3.org/1998/Math/MathML'),
        numBottom: num && num.bottom, denTop: den && den.top, numLeft: num && num.left, denRight: den && den.right,
        images: Array.from(document.images).map(i => [i.naturalWidth, i.complete])};
"""


def test_index_link_leads_to_laid_out_mathml_without_console_errors(reports, browser):
    browser.get((reports / "index.html").as_uri())
    assert browser.title == "proofcheck — checked solutions"
    link = browser.find_element("css selector", 'a[href="hw6-2021.html#gaussian-change-of-variables"]')
    link.click()
    assert browser.current_url.endswith("hw6-2021.html#gaussian-change-of-variables")
    heading = browser.find_element("css selector", "#gaussian-change-of-variables h2")
    assert heading.text.startswith("Problem 3:")
    layout = browser.execute_script(LAYOUT)
    assert layout["count"] > 10 and layout["mathml"]
    assert layout["empty"] == 0  # every <math> element has a non-zero box
    # MathML layout, not inline text: a fraction's numerator sits above its denominator.
    assert layout["numBottom"] <= layout["denTop"] + 1
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []


def test_status_colours_are_applied(reports, browser):
    browser.get((reports / "hw6-2021.html").as_uri())
    status = browser.find_element("css selector", "span.status.ok")
    assert status.text == "passed"
    assert status.value_of_css_property("color") in ("rgba(13, 115, 38, 1)", "rgb(13, 115, 38)")
