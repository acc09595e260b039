"""The `proofcheck serve` page in a real browser: headless Chromium types an answer, sees the preview and the
verdict, checks a derivation and uploads a class CSV (selenium, as tests/test_report_browser.py)."""

from __future__ import annotations

import pytest

from test_serve_api import KL_CORRECT, KL_SWAPPED

WAIT = 90  # seconds for one thing to appear on the page (grading is milliseconds; a loaded machine is slower)


def wait_for(browser, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT, poll_frequency=0.1).until(condition, message)


def css(browser, selector):
    return browser.find_element("css selector", selector)


@pytest.fixture(scope="module")
def page(browser, server):  # the browser first: without Chromium no server is started
    browser.get(server.url + "/")
    wait_for(browser, lambda b: b.execute_script("return document.body.dataset.ready === 'true'"),
             "the page did not load the problems")
    return browser


def test_typing_shows_the_reading_then_the_verdict(page):
    assert page.title == "proofcheck — grade a formula"
    assert css(page, "#problem").get_attribute("value") == "kl-gaussian"
    assert "hw6-2021 P5" in css(page, "#title").text
    assert page.execute_script("return document.querySelectorAll('#statement math, #symbols math').length") >= 6
    box = css(page, "#answer")
    box.clear()
    box.send_keys(KL_SWAPPED)
    wait_for(page, lambda b: b.execute_script("return document.querySelector('#preview math') !== null"),
             "no preview of the answer appeared")
    layout = page.execute_script("""
        const m = document.querySelector('#preview math');
        const frac = m.querySelector('mfrac');
        const [num, den] = Array.from(frac.children).map(c => c.getBoundingClientRect());
        return {ns: m.namespaceURI, width: m.getBoundingClientRect().width, stacked: num.bottom <= den.top + 1,
                text: m.textContent};""")
    assert layout["ns"] == "http://www.w3.org/1998/Math/MathML" and layout["width"] > 0
    assert layout["stacked"]  # laid out as math: a fraction's numerator above its denominator
    assert "\\" not in layout["text"] and "Σ" in layout["text"]  # printed from the parsed object, not the LaTeX
    assert "a scalar in" in css(page, "#words").text
    verdict = wait_for(page, lambda b: b.find_elements("css selector", "#result .verdict"), "no verdict appeared")[0]
    assert verdict.text == "incorrect"
    assert "trace arguments are swapped" in css(page, "#result").text
    assert "Counterexample" in css(page, "#result").text

    box.clear()
    box.send_keys(KL_CORRECT)
    wait_for(page, lambda b: b.find_elements("css selector", "#result .verdict.correct"), "the correct answer's verdict")
    css(page, "#grade").click()
    wait_for(page, lambda b: "sympy:" in css(b, "#result").text, "the full grade (with sympy) did not appear")


def test_an_unreadable_answer_shows_why(page):
    box = css(page, "#answer")
    box.clear()
    box.send_keys(r"\Sigma_2 + d")
    error = wait_for(page, lambda b: b.find_elements("css selector", "#preview .error"), "no reading error")[0]
    assert "Sigma_2" in error.text


def test_derivation_tab_highlights_the_first_wrong_line(page):
    css(page, 'nav [data-tab="steps"]').click()
    area = css(page, "#derivation")
    area.clear()
    area.send_keys(r"D &= \frac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) - d + \log\frac{\det\Sigma_1}"
                   r"{\det\Sigma_0} + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0)\right) \\" "\n"
                   r"&= \frac12\operatorname{tr}(\Sigma_0^{-1}\Sigma_1) - \frac d2 + \frac12\log\frac{\det\Sigma_1}"
                   r"{\det\Sigma_0} + \frac12(\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0)")
    css(page, "#check").click()
    row = wait_for(page, lambda b: b.find_elements("css selector", "#steps-result tr.wrong"), "no highlighted line")[0]
    assert row.get_attribute("data-line") == "2"
    assert row.find_element("tag name", "td").value_of_css_property("background-color") in ("rgba(253, 231, 230, 1)", "rgb(253, 231, 230)")
    assert "First wrong line: 2" in css(page, "#steps-result").text


def test_csv_tab_grades_an_upload_and_shows_the_class_analysis(page, tmp_path):
    path = tmp_path / "class.csv"
    path.write_text("id,answer\n" + "".join(f'{i},"{KL_SWAPPED if i % 3 else KL_CORRECT}"\n' for i in range(9)) +
                    "9,\\Sigma_7\n", encoding="utf-8")
    css(page, 'nav [data-tab="csv"]').click()
    css(page, "#csvfile").send_keys(str(path))
    css(page, "#upload").click()
    counts = wait_for(page, lambda b: b.find_elements("css selector", "#csv-result .counts"), "no class counts")[0]
    assert counts.text.startswith("10 answers: 3 correct, 6 incorrect, 1 invalid")
    link = css(page, "#download")
    assert link.get_attribute("href").startswith("blob:") and link.get_attribute("download") == "class-graded.csv"
    frame = css(page, "#analysis")
    assert frame.is_displayed()
    page.switch_to.frame(frame)
    try:
        assert "trace" in page.find_element("tag name", "body").text
    finally:
        page.switch_to.default_content()
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
