"""Every report of every problem set as a reader gets it: typesetting, spellings, answers, honest status, keys.

One build of all derivations on the CPU (what `make reports` builds) feeds the
checks of issue 8: the LaTeX log of every PDF has no overfull box wider than 1 pt and no missing
character; `pdftotext` finds no sympy or internal spelling; every sub-question has an answer block;
verification boxes are never split across pages; the answer keys exist and are 1-4 pages; a graded
submission's status is its verdicts (in red when an answer is wrong), on its page and on index.html;
and in headless Chromium no page overflows horizontally at 1,000 px.
"""

import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from checkers.reporting.build import BuildOptions, build_reports

HAVE_LATEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
HAVE_POPPLER = shutil.which("pdftotext") is not None and shutil.which("pdfinfo") is not None
needs_pdf = pytest.mark.skipif(not (HAVE_LATEX and HAVE_POPPLER),
                               reason="latexmk/pdflatex or pdftotext/pdfinfo missing (CI installs texlive-latex-"
                                      "recommended latexmk lmodern poppler-utils; see .ci/run)")
pytestmark = pytest.mark.slow

# Spellings that must never reach a reader: sympy's str() of objects, Python names, raw LaTeX source,
# the escaping filter's placeholder for a character it cannot typeset.
FORBIDDEN = [
    ("sympy Sum", re.compile(r"\bSum\(")), ("sympy Max", re.compile(r"\bMax\(")),
    ("sympy Min", re.compile(r"\bMin\(")), ("sympy name lam", re.compile(r"\blam\b")),
    ("double underscore", re.compile(r"__")), ("missing glyph", re.compile(r"\[U\+[0-9A-F]{4,}\]")),
    ("internal name _qf", re.compile(r"_qf")), ("R^d for ℝᵈ", re.compile(r"\bR\^")),
    ("Python power **", re.compile(r"\*\*")), ("sympy sqrt(", re.compile(r"\bsqrt\(")),
    ("sympy Abs(", re.compile(r"\bAbs\(")), ("sympy class name", re.compile(
        r"\b(?:MatrixSymbol|Transpose|Determinant|Trace|Integral|Piecewise|Scalar|Indexed|Heaviside)\(")),
    ("Python lambda", re.compile(r"<lambda>")),
    ("raw LaTeX command", re.compile(r"\\(?:frac|mathbb|mathrm|mathcal|sum|int|operatorname|left|right|sqrt|top)\b")),
    ("raw LaTeX script", re.compile(r"[_^]\{")), ("LaTeX escape shown", re.compile(r"\\_|\\\^")),
    ("placeholder numeric function", re.compile(r"Checked numerically by: numeric")),
]


@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    root = tmp_path_factory.mktemp("all-reports")
    formats = ("pdf", "html", "tex") if HAVE_LATEX else ("html", "tex")
    options = BuildOptions(out_dir=root / "out", formats=formats, devices=("cpu",), cache_dir=root / "cache")
    outcome = build_reports(options)
    return options, outcome


def _sets(options) -> list[str]:
    return sorted(p.stem for p in options.out_dir.glob("*.html") if p.stem != "index" and not p.stem.endswith("-key"))


def _pdf_pages(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")


def _html(path: Path) -> ET.Element:
    return ET.fromstring(re.sub(r"^<!DOCTYPE html>", "", path.read_text(encoding="utf-8")))


def test_build_passes_and_writes_every_document(everything):
    options, outcome = everything
    assert outcome.passed, [f for d in outcome.run.derivations for c in d.claims for f in c.failures][:3]
    sets = _sets(options)
    assert {"hw6-2021", "hw7-2024", "final-2022", "quiz1-2020", "student-hw6"} <= set(sets)
    for set_id in sets:
        for suffix in ("", "-key"):
            assert (options.out_dir / f"{set_id}{suffix}.html").exists()


@pytest.mark.skipif(not HAVE_LATEX, reason="latexmk/pdflatex not installed (CI installs texlive-latex-recommended "
                                           "latexmk lmodern; see .ci/run)")
def test_build_writes_a_pdf_for_every_document(everything):
    options, _ = everything
    for set_id in _sets(options):
        for suffix in ("", "-key"):
            assert (options.out_dir / f"{set_id}{suffix}.pdf").exists(), f"{set_id}{suffix}.pdf"


@needs_pdf
def test_latex_logs_have_no_overfull_box_over_1pt_and_no_missing_character(everything):
    options, _ = everything
    logs = sorted((options.cache_dir / "latex").glob("*.log"))
    assert len(logs) == 2 * len(_sets(options))
    problems = []
    for log in logs:
        text = log.read_text(errors="replace")
        for match in re.finditer(r"Overfull \\[hv]box \((\d+(?:\.\d+)?)pt too (?:wide|high)\)[^\n]*\n([^\n]*)", text):
            if float(match.group(1)) > 1.0:
                problems.append(f"{log.stem}: {match.group(0)[:160]}")
        problems += [f"{log.stem}: {line}" for line in text.splitlines() if "Missing character" in line]
    assert problems == []


def _code_lines() -> set[str]:
    """The lines of every code answer (listings are Python, where `__init__` and `**` are right)."""
    import inspect

    from checkers.registry import all_derivations

    lines = set()
    for derivation in all_derivations():
        for part in derivation.parts:
            if part.answer.code is not None:  # one object, or a tuple of them listed together
                code = part.answer.code if isinstance(part.answer.code, tuple) else (part.answer.code,)
                lines |= {_ascii(line) for piece in code for line in inspect.getsource(piece).splitlines()}
    return {line for line in lines if line}


def _ascii(text: str) -> str:
    """Printable ASCII only: listings typeset σ² as σ 2, and mark a broken line with ↪."""
    import unicodedata

    return re.sub(r"[^\x21-\x7e]", "", unicodedata.normalize("NFKC", text))


def _in_listing(line: str, code: set[str]) -> bool:
    text = _ascii(line)
    return len(text) > 3 and any(text in source for source in code)  # listings break long lines: a piece of one


@needs_pdf
def test_pdf_text_has_no_sympy_or_internal_spellings(everything):
    options, _ = everything
    code = _code_lines()
    found = []
    for set_id in _sets(options):
        for suffix in ("", "-key"):
            for number, page in enumerate(_pdf_pages(options.out_dir / f"{set_id}{suffix}.pdf"), start=1):
                for line in page.splitlines():
                    if _in_listing(line, code):
                        continue
                    for what, pattern in FORBIDDEN:
                        if pattern.search(line):
                            found.append(f"{set_id}{suffix}.pdf p. {number}: {what}: {line.strip()[:100]}")
    assert found == []


@needs_pdf
def test_verification_boxes_are_never_split_across_pages(everything):
    options, _ = everything
    for set_id in _sets(options):
        pages = _pdf_pages(options.out_dir / f"{set_id}.pdf")
        starts = [(i, m.group(1)) for i, page in enumerate(pages)
                  for m in re.finditer(r"Claim\s+(\S+):\s+(?:passed|FAILED)", page)]
        ends = [i for i, page in enumerate(pages) for _ in re.finditer(r"rejected:\s+(?:\S\s+){0,3}\d+\s+of\s+\d+",
                                                                      page)]
        assert starts and len(starts) == len(ends), set_id
        for (start, claim), end in zip(starts, ends):
            assert start == end, f"{set_id}: the evidence box of {claim} starts on page {start + 1}, ends on {end + 1}"
        # the one-line verification of every sub-question: "Verified: ... rejected." on one page
        for i, page in enumerate(pages):
            for m in re.finditer(r"(Verified|FAILED): ", page):
                assert "Evidence:" in page[m.start():], f"{set_id} p. {i + 1}: a verification line runs over the page"


def test_every_sub_question_opens_with_an_answer(everything):
    options, _ = everything
    for set_id in _sets(options):
        page = _html(options.out_dir / f"{set_id}.html")
        parts = [s for s in page.iter("section") if s.get("class") == "part"]
        assert parts, set_id
        for part in parts:
            title = part.find("h4")  # a derivation's only part, unlabelled, has no heading of its own
            heading = "".join(title.itertext()) if title is not None else part.get("id")
            if heading == "Supporting lemmas":
                continue
            first = [child for child in part if child.tag != "h4"]
            assert any(c.get("class") == "answer" for c in first[:2]), f"{set_id}: {heading} has no answer block"
            assert any(c.get("class", "").startswith("box verified") for c in part), f"{set_id}: {heading}"


@needs_pdf
def test_answer_keys_hold_answers_only_on_one_to_four_pages(everything):
    options, _ = everything
    for set_id in _sets(options):
        key = options.out_dir / f"{set_id}-key.pdf"
        info = subprocess.run(["pdfinfo", str(key)], capture_output=True, text=True, check=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        assert 1 <= pages <= 4, f"{key.name}: {pages} pages"
        text = "".join(_pdf_pages(key))
        assert "Answer" in text and "Wrong variants rejected" not in text and "Evidence" not in text


def test_graded_submission_status_is_its_verdicts_in_red(everything):
    from checkers.reporting.graded import graded_section
    from checkers.registry import problem_sets

    options, _ = everything
    (student,) = [s for s in problem_sets() if s.answers]
    section = graded_section(student.answers)
    wrong, total = section.counts.get("incorrect", 0), len(section.answers)
    assert wrong > 0  # the submission has real mistakes (a missing square root, an inverted ratio)
    expected = f"{wrong} of {total} answers wrong"
    page = _html(options.out_dir / f"{student.id}.html")
    headline = next(p for p in page.iter("p") if "headline" in p.get("class", ""))
    status = next(s for s in headline.iter("span") if "status" in s.get("class", "").split())
    assert status.text == expected and "fail" in status.get("class").split()
    index = _html(options.out_dir / "index.html")
    (entry,) = [s for s in index.iter("section") if s.get("id") == student.id]
    spans = [s for s in entry.iter("span") if "status" in s.get("class", "").split()]
    assert spans[0].text == expected and "fail" in spans[0].get("class").split()
    assert "passed" not in " ".join("".join(p.itertext()) for p in entry.iter("p"))


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else shutil.which("chromedriver")

OVERFLOW = """
const width = document.documentElement.clientWidth;
const wide = [];
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.right > width + 1 && el.offsetParent !== null) {
    let clipped = false;  // inside a scroll container (a wide formula scrolls in its own box)
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (['auto', 'scroll', 'hidden'].includes(style.overflowX) && p.getBoundingClientRect().right <= width + 1) {
        clipped = true; break;
      }
    }
    if (!clipped) wide.push(el.tagName + (el.id ? '#' + el.id : '') + ': ' + (el.textContent || '').slice(0, 60));
  }
}
return {scroll: document.documentElement.scrollWidth, width: width, wide: wide.slice(0, 5)};
"""


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Chromium and chromedriver not installed (see .ci/run)")
def test_html_has_no_horizontal_overflow_at_1000px(everything):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options, _ = everything
    profile = tempfile.mkdtemp(prefix="proofcheck-chromium-")
    chrome = webdriver.ChromeOptions()
    chrome.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 f"--user-data-dir={profile}", "--window-size=1000,1400", "--hide-scrollbars"):
        chrome.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=chrome)
    try:
        for page in sorted(options.out_dir.glob("*.html")):
            driver.get(page.as_uri())
            driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
            layout = driver.execute_script(OVERFLOW)
            assert layout["width"] <= 1000
            assert layout["scroll"] <= layout["width"], f"{page.name}: {layout}"
            assert layout["wide"] == [], f"{page.name}: {layout['wide']}"
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
