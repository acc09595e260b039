"""The LaTeX-escaping filter: exact outputs, an injective decodable mapping (hypothesis), and pdflatex compiling it."""

import re
import shutil
import subprocess
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.reporting import latex_escape as le
from checkers.reporting.latex_escape import Tex, escape_latex, finalize
from checkers.reporting.render import latex_environment

needs_latex = pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("pdflatex") is None,
                                 reason="latexmk/pdflatex not installed (CI installs texlive-latex-recommended "
                                        "latexmk lmodern; see .ci/run)")


@pytest.mark.parametrize("text, expected", [
    ("a_b", r"a\_b"),
    ("50%", r"50\%"),
    ("$x$", r"\$x\$"),
    ("{x}", r"\{x\}"),
    ("a & b # c", r"a \& b \# c"),
    ("x^2", r"x\textasciicircum{}2"),
    ("~", r"\textasciitilde{}"),
    ("C:\\path", r"C:\textbackslash{}path"),
    ("--", "-{}-{}"),
    ("[opt]", "{[}opt{]}"),
    ("<<", r"\textless{}\textless{}"),
    ("A⁻¹", r"A\ensuremath{^{-1}}"),
    ("Σ₀", r"\ensuremath{\Sigma}\ensuremath{_{0}}"),
    ("x − b ≤ ‖y‖", r"x \ensuremath{-} b \ensuremath{\le} \ensuremath{\|}y\ensuremath{\|}"),
    ("W\u0303", r"\ensuremath{\tilde{W}}"),
    ("😀", r"\texttt{{[}U+1F600{]}}"),
    ("line\nbreak\ttab", "line break tab"),
])
def test_exact_escapes(text, expected):
    assert escape_latex(text) == expected


def test_trusted_tex_and_none_pass_unchanged():
    assert escape_latex(Tex(r"\frac{a}{b}")) == r"\frac{a}{b}"
    assert finalize(None) == ""
    assert finalize(Tex(r"\alpha")) == r"\alpha"
    assert finalize("#") == r"\#"


def test_latex_environment_escapes_every_value_but_trusted_math():
    env = latex_environment()
    out = env.from_string(r"\textbf{((( v )))} $((( m )))$ ((* if v *))yes((* endif *))").render(
        v="50% of {x}_1", m=Tex(r"\frac{1}{2}"))
    assert out == r"\textbf{50\% of \{x\}\_\allowbreak{}1} $\frac{1}{2}$ yes"  # a break allowed after _


# -- an independent decoder: reads escaped output back into the text, token by token -------------------------

def _decoder():
    singles = {}
    for table in (le._ASCII, le._TEXT):
        for ch, out in table.items():
            if ch not in "\n\r\t":
                singles[out] = ch
    for table in (le._GREEK, le._MATH):
        for ch, out in table.items():
            singles[rf"\ensuremath{{{out}}}"] = ch
    singles[r"\ensuremath{o}"] = "ο"
    for mark, command in le._COMBINING.items():
        for base in le._ACCENTABLE:
            singles[rf"\ensuremath{{{command}{{{base}}}}}"] = base + mark
        for base, out in le._GREEK.items():
            singles[rf"\ensuremath{{{command}{{{out}}}}}"] = base + mark
    scripts = {"^": {v: k for k, v in le._SUPERSCRIPT.items()}, "_": {v: k for k, v in le._SUBSCRIPT.items()}}
    inner_re = {k: "|".join(re.escape(t) for t in sorted(v, key=len, reverse=True)) for k, v in scripts.items()}
    token = re.compile(
        r"\\ensuremath\{(?P<mark>[\^_])\{(?P<inner>(?:" + inner_re["^"] + "|" + inner_re["_"] + r")+)\}\}"
        r"|\\texttt\{\{\[\}U\+(?P<code>[0-9A-F]{4,6})\{\]\}\}"
        r"|(?P<single>" + "|".join(re.escape(t) for t in sorted(singles, key=len, reverse=True)) + ")"
        r"|(?P<plain>[^\\{}$&#^_~%<>|\"'`\-\[\]])", re.DOTALL)

    def decode(text: str) -> str:
        out, pos = [], 0
        while pos < len(text):
            m = token.match(text, pos)
            assert m is not None, f"unrecognised output at {pos}: {text[pos:pos + 30]!r}"
            if m.group("mark"):
                table = scripts[m.group("mark")]
                inner, i = m.group("inner"), 0
                keys = sorted(table, key=len, reverse=True)
                while i < len(inner):
                    key = next(k for k in keys if inner.startswith(k, i))
                    out.append(table[key])
                    i += len(key)
            elif m.group("code"):
                out.append(chr(int(m.group("code"), 16)))
            elif m.group("single") is not None:
                out.append(singles[m.group("single")])
            else:
                out.append(m.group("plain"))
            pos = m.end()
        return "".join(out)

    return decode


DECODE = _decoder()


def _expected(text: str) -> str:
    return re.sub(r"[\n\r\t]", " ", unicodedata.normalize("NFC", text))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaping_is_decodable_and_injective(text):
    """Every output consists of known tokens only (no bare special character) and reads back to the input."""
    assert DECODE(escape_latex(text)) == _expected(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(sorted(set("\\{}$&#^_~%<>|\"'`-[] aZ\n") | set(le._MATH) | set(le._GREEK)
                                               | set(le._SUPERSCRIPT) | set(le._SUBSCRIPT) | set("W\u0303")))))
def test_escaping_specials_heavy_text(text):
    assert DECODE(escape_latex(text)) == _expected(text)


def _compile(body: str, tmp_path) -> str:
    preamble = latex_environment().get_template("preamble.tex.j2").render()
    (tmp_path / "t.tex").write_text(preamble + "\\begin{document}\n" + body + "\n\\end{document}\n")
    proc = subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, errors="replace", timeout=180)
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    return log


@needs_latex
def test_escaped_text_compiles_without_missing_glyphs(tmp_path):
    """Property: hypothesis-drawn strings, escaped, compile in one document, in text and in a section title."""
    drawn: list[str] = []

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.text(min_size=1, max_size=40))
    def collect(text):
        drawn.append(text)

    collect()
    every_mapped = "".join(sorted(set(le._ASCII) | set(le._GREEK) | set(le._MATH) | set(le._TEXT)
                                  | set(le._SUPERSCRIPT) | set(le._SUBSCRIPT) | le._PASS_THROUGH))
    body = [r"\section{" + escape_latex(every_mapped[:60]) + "}", escape_latex(every_mapped) + r"\par"]
    body += [r"\textbf{" + escape_latex(t) + r"}\par" for t in drawn]
    log = _compile("\n".join(body), tmp_path)
    assert "Missing character" not in log
