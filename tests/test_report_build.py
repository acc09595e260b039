"""`make reports` end to end on a small subset: PDF text, HTML structure, incremental rebuilds, failures shown."""

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sympy as sp

from checkers import Claim, Derivation, Figure, Mutant, Real, Variable, identity
from checkers.cli import main
from checkers.reporting.build import BuildOptions, build_reports
from proofs.gaussian_change_of_variables import DERIVATIONS

needs_latex = pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("pdflatex") is None,
                                 reason="latexmk/pdflatex not installed (CI installs texlive-latex-recommended "
                                        "latexmk lmodern; see .ci/run)")
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")

GAUSSIAN = DERIVATIONS[0]
FORMATS = ("pdf", "html", "tex") if shutil.which("latexmk") and shutil.which("pdflatex") else ("html", "tex")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    options = BuildOptions(out_dir=root / "out", formats=FORMATS, derivations=(GAUSSIAN,), devices=("cpu",),
                           instances=200, cache_dir=root / "cache")
    return options, build_reports(options)


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def parse_html(path: Path) -> ET.Element:
    """The reports are polyglot HTML: well-formed XML once the doctype is dropped."""
    return ET.fromstring(re.sub(r"^<!DOCTYPE html>", "", path.read_text(encoding="utf-8")))


def test_one_document_per_problem_set_that_has_derivations(built):
    options, outcome = built
    assert outcome.passed and outcome.run.passed
    names = sorted(p.name for p in options.out_dir.iterdir() if p.is_file() and p.suffix != ".pdf")
    expected = {"index.html", "hw6-2021.html", "student-hw6.html", "hw6-2021.tex", "student-hw6.tex",
                "hw6-2021-key.html", "student-hw6-key.html", "hw6-2021-key.tex", "student-hw6-key.tex"}
    assert set(names) == expected  # hw7-2024, final-2022, quiz1-2020 have no derivation in this subset


@needs_latex
def test_one_pdf_per_problem_set_and_key_and_one_latex_run_each(built):
    options, outcome = built
    assert sorted(p.name for p in options.out_dir.glob("*.pdf")) == [
        "hw6-2021-key.pdf", "hw6-2021.pdf", "student-hw6-key.pdf", "student-hw6.pdf"]
    assert sorted(outcome.latex_runs) == ["hw6-2021", "hw6-2021-key", "student-hw6", "student-hw6-key"]


@needs_latex
@needs_pdftotext
def test_pdf_shows_every_problem_heading_answer_and_verification(built):
    options, outcome = built
    for set_id, label in (("hw6-2021", "Problem 3"), ("student-hw6", "Problem 4")):
        text = " ".join(pdf_text(options.out_dir / f"{set_id}.pdf").split())
        assert f"{label}: {GAUSSIAN.title}" in text
        assert "Answer." in text and "Verified: proved symbolically in general" in text
        for claim in outcome.run.derivations[0].claims:
            assert f"Claim {claim.id}: passed" in text  # its evidence box in the appendix
        assert "7 of 7 wrong variants rejected" in text and "Wrong variants rejected: 4 of 4" in text
        assert "proved (general)" not in text
        assert f"seed {outcome.run.seed}" in text and "torch 2.13.0" in text
        assert "rounding bound" in text and "≤ atol + rtol·|rhs|" in text  # the criterion the rows applied


def test_html_parses_has_mathml_and_no_external_url(built):
    options, _ = built
    for name in ("index.html", "hw6-2021.html", "student-hw6.html"):
        path = options.out_dir / name
        root = parse_html(path)
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"(?i)\b(?:https?|ftp):|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(", source)
        for element in root.iter():
            for attr in ("src", "href"):
                value = element.get(attr)
                if value is not None:
                    assert re.fullmatch(r"data:image/png;base64,[A-Za-z0-9+/=]+|#[\w-]+|[\w-]+\.(?:html|pdf)"
                                        r"(?:#[\w-]+)?", value), value
        if name != "index.html":
            maths = list(root.iter("math"))
            assert len(maths) > 10
            assert any(m.get("display") == "block" for m in maths)


def test_html_formulas_come_from_the_checked_objects(built):
    options, _ = built
    root = parse_html(options.out_dir / "hw6-2021.html")
    claim = next(s for s in root.iter("div") if s.get("id") == "gaussian-change-of-variables--det-gram--derivation")
    formula = next(d for d in claim.iter("div") if d.get("class") == "formula")
    mis = [e.text for e in formula.iter("mi")]
    assert mis.count("det") == 2 and "A" in mis  # det(A A^T) = det(A)^2, printed from the sympy claim
    assert "A" in [e.text for e in formula.iter("mi")]


def test_index_has_one_status_line_per_problem(built):
    options, outcome = built
    root = parse_html(options.out_dir / "index.html")
    rows = [tr for tr in root.iter("tr") if tr.find("td") is not None]
    assert len(rows) == 2  # the derivation answers hw6-2021 P3 and student-hw6 P4
    links = [tr.find("td/a").get("href") for tr in rows]
    assert links == ["hw6-2021.html#gaussian-change-of-variables", "student-hw6.html#gaussian-change-of-variables"]
    for tr in rows:
        status = "".join(tr.itertext())
        assert "passed" in status and "3 checked claims, all verified" in status


def test_second_build_reuses_the_run_and_runs_no_latex(built):
    options, first = built
    pdfs = {p: p.stat().st_mtime_ns for p in options.out_dir.glob("*.pdf")}
    again = build_reports(options)
    assert again.reused == [GAUSSIAN.id] and again.latex_runs == []
    assert again.run.started == first.run.started
    assert {p: p.stat().st_mtime_ns for p in options.out_dir.glob("*.pdf")} == pdfs


@needs_latex
def test_unchanged_document_still_reaches_a_new_output_folder(built, tmp_path):
    import dataclasses

    options, _ = built
    elsewhere = dataclasses.replace(options, out_dir=tmp_path / "elsewhere")
    again = build_reports(elsewhere)
    assert again.latex_runs == []  # same LaTeX source: nothing recompiled ...
    for name in ("hw6-2021.pdf", "student-hw6.pdf"):  # ... yet every PDF is there, identical to the first build's
        assert (elsewhere.out_dir / name).read_bytes() == (options.out_dir / name).read_bytes()


# -- failures are shown, never hidden -------------------------------------------------------------------------

t = sp.Symbol("t", real=True)


def _draw_ok(ax):
    ax.plot([0, 1, 2], [0, 1, 4], label="t^2")
    ax.legend()


def _draw_broken(ax):
    raise RuntimeError("no data for this plot")


BROKEN = Derivation(
    id="toy-broken", title="A wrong identity", source="quiz1-2020 P9",
    statement=r"Show that $(t+1)^2 = t^2 + 1$ for every real $t$.",
    claims=(Claim(id="square", statement="(t+1)² = t² + 1 (false: the cross term is missing)",
                  lhs=(t + 1) ** 2, rhs=t ** 2 + 1, variables=(Variable("t", Real()),), symbolic=identity(),
                  mutants=(Mutant("plus-two", "t² + 2", rhs=t ** 2 + 2),), instances=40),),
    figures=(Figure("curve", "a curve that draws", _draw_ok), Figure("broken", "a figure that raises", _draw_broken)),
)


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    root = tmp_path_factory.mktemp("failing")
    options = BuildOptions(out_dir=root / "out", formats=FORMATS, derivations=(BROKEN,), devices=("cpu",),
                           cache_dir=root / "cache")
    return options, build_reports(options)


def test_failed_check_is_written_in_red_with_its_report(failing):
    options, outcome = failing
    assert not outcome.passed
    html = (options.out_dir / "quiz1-2020.html").read_text()
    root = parse_html(options.out_dir / "quiz1-2020.html")
    failures = [p.text for p in root.iter("pre") if p.get("class") == "failure"]
    assert any("replay: proofcheck verify toy-broken/square" in f for f in failures)
    assert any(f.startswith("symbolic: sympy did not simplify") for f in failures)
    assert '<span class="status fail">FAILED</span>' in html
    assert "could not be drawn:</strong> RuntimeError: no data for this plot" in html
    images = [img.get("src") for img in root.iter("img")]
    assert len(images) == 1 and images[0].startswith("data:image/png;base64,iVBOR")


@needs_latex
@needs_pdftotext
def test_failed_check_is_in_the_pdf_with_its_report(failing):
    options, _ = failing
    text = " ".join(pdf_text(options.out_dir / "quiz1-2020.pdf").split())
    assert "Claim square: FAILED" in text and "Failure report" in text and "could not be drawn" in text


def test_failing_results_and_foreign_derivations_are_not_cached(failing):
    options, _ = failing
    again = build_reports(options)
    assert again.reused == [] and not again.passed


def test_cache_key_follows_the_proof_module_and_its_imports():
    from checkers.reporting.cache import derivation_key, proof_files

    files = proof_files(GAUSSIAN)
    proof_modules = [p.name for p in files if p.parent.name == "proofs"]
    assert proof_modules == ["__init__.py", "gaussian_change_of_variables.py"]
    assert all(p.parent.name in ("proofs", "grading") for p in files)  # the grading package it imports counts too
    assert proof_files(BROKEN) is None and derivation_key(BROKEN, "e", 0, ["cpu"], None) is None
    key = derivation_key(GAUSSIAN, "engine-a", 0, ["cpu"], None)
    assert key == derivation_key(GAUSSIAN, "engine-a", 0, ["cpu"], None)
    for other in (derivation_key(GAUSSIAN, "engine-b", 0, ["cpu"], None),
                  derivation_key(GAUSSIAN, "engine-a", 1, ["cpu"], None),
                  derivation_key(GAUSSIAN, "engine-a", 0, ["cpu", "cuda"], None),
                  derivation_key(GAUSSIAN, "engine-a", 0, ["cpu"], 500)):
        assert other != key


def test_cli_exits_nonzero_after_writing_documents(tmp_path, monkeypatch, capsys):
    import checkers.registry

    monkeypatch.setattr(checkers.registry, "all_derivations", lambda: (BROKEN,))
    out = tmp_path / "out"
    code = main(["report", "--format", "html", "--out", str(out), "--cache-dir", str(tmp_path / "c"),
                 "--device", "cpu"])
    assert code == 1
    assert (out / "quiz1-2020.html").exists() and (out / "index.html").exists()
    err = capsys.readouterr().err
    assert "FAILED toy-broken / square" in err and "FAILED toy-broken / figure broken" in err


def test_cli_unknown_set_is_a_usage_error(tmp_path, capsys):
    code = main(["report", "--set", "hw99", "--format", "html", "--out", str(tmp_path)])
    assert code == 2
    assert "unknown problem set 'hw99'" in capsys.readouterr().err
