"""The two Jinja2 environments over `templates/`: LaTeX (brace-safe delimiters, every value escaped) and HTML (autoescaped).

LaTeX templates use `((* block *))`, `((( value )))` and `((= comment =))`, which cannot clash with
TeX braces; the environment's `finalize` hook passes every printed value through
`latex_escape.escape_latex` unless it is `Tex` (sympy's printer output or a sanitized statement),
so a template cannot forget to escape. HTML templates autoescape; MathML arrives as `Markup`
built by `mathml.serialize`, which escapes every text node itself.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import jinja2
import sympy as sp
from markupsafe import Markup

from checkers.reporting.display import Named, Shown
from checkers.reporting.latex_escape import Tex, escape_latex, finalize
from checkers.reporting.latex_math import to_latex
from checkers.reporting.mathml import Node, expression_node, math_element, serialize
from checkers.reporting.records import Formula
from checkers.reporting.statements import RenderedStatement, math_nodes, render_statement
from checkers.resources import templates_directory

__all__ = ["TEMPLATES", "html_environment", "latex_environment", "formula_latex", "formula_mathml"]

TEMPLATES = templates_directory()

_RELATIONS_TEX = {"=": "=", "<=": r"\le", ">=": r"\ge", "≈": r"\approx", ":=": r"\coloneqq"}
_RELATIONS_MATHML = {"=": "=", "<=": "≤", ">=": "≥", "≈": "≈", ":=": "≔"}


def _part_is_relation(part) -> bool:
    return isinstance(part, str) and part in _RELATIONS_TEX


# A displayed chain longer than this (in printed characters, commands and braces not counted) is set one relation
# per line rather than shrunk to fit the line (a 6-point equation helps nobody).
LONG_FORMULA = 90
_SIZING = re.compile(r"\\(left|right|mathrm|operatorname|mathbb|mathcal|frac|displaystyle)(?![A-Za-z])|[{}^_&\s]")
_COMMAND = re.compile(r"\\[A-Za-z]+")


def _printed_length(tex: str) -> int:
    """About how many glyphs `tex` prints: a command (\\log, \\Sigma) counts as one, sizing and braces as none."""
    return len(_COMMAND.sub("c", _SIZING.sub("", tex)))


def _latex_pieces(formula: Formula, log_name: str = "log") -> list[str]:
    out = []
    for part in formula.parts:
        if isinstance(part, Shown):
            out.append(to_latex(part.expr, order="none", log_name=log_name))
        elif isinstance(part, Named):
            out.append(str(render_statement(f"${part.latex}$").tex).strip().strip("$"))
        else:
            out.append(_RELATIONS_TEX[part] if _part_is_relation(part) else to_latex(part, log_name=log_name))
    return out


def _lines(pieces: list, relation) -> list[list]:
    """The pieces split before each relation sign: [[lhs], [rel, rhs], [rel, rhs2], ...]."""
    lines: list[list] = [[]]
    for piece in pieces:
        if relation(piece) and lines[-1]:
            lines.append([])
        lines[-1].append(piece)
    return lines


def formula_latex(formula: Formula, log_name: str = "log") -> Tex:
    """LaTeX math source of a formula: sympy parts through `sp.latex`'s printer (the natural logarithm spelled
    `log_name`), relations as symbols; a long chain one relation per line (`aligned`, every line from one left
    edge)."""
    pieces = _latex_pieces(formula, log_name)
    text = " ".join(pieces)
    relations = set(_RELATIONS_TEX.values())
    lines = _lines(pieces, lambda piece: piece in relations)
    if _printed_length(text) <= LONG_FORMULA or len(lines) < 2:
        return Tex(text)
    # every line starts at one left edge (the left-hand side on its own line, then "= ..." lines): the width is
    # the widest line, not the left-hand side plus the widest right-hand side
    rows = ["& " + " ".join(line) for line in lines]
    return Tex(r"\begin{aligned} " + r" \\ ".join(rows) + r" \end{aligned}")


def formula_mathml(formula: Formula, display: bool = False, log_name: str = "log") -> Markup:
    """One `<math>` element for a formula, printed from its sympy parts (the natural logarithm spelled
    `log_name`); a long displayed chain one relation per row of an `mtable`, left-aligned (as the LaTeX sets it)."""
    nodes: list[Node] = []
    for part in formula.parts:
        if isinstance(part, Shown):
            nodes.append(expression_node(part.expr, order="none", log_name=log_name))
        elif isinstance(part, Named):
            nodes.append(Node.row(*math_nodes(part.latex)))
        else:
            nodes.append(Node.leaf("mo", _RELATIONS_MATHML[part]) if _part_is_relation(part)
                         else expression_node(sp.sympify(part), log_name=log_name))
    lines = _lines(nodes, lambda node: node.tag == "mo" and node.text in _RELATIONS_MATHML.values())
    if display and len(lines) >= 2 and _printed_length(" ".join(_latex_pieces(formula))) > LONG_FORMULA:
        table = Node("mtable", [Node("mtr", [Node("mtd", [Node.row(*line)], attrs={"columnalign": "left"})])
                                for line in lines])
        return Markup(serialize(math_element([table], display)))
    return Markup(serialize(math_element(nodes, display)))


def code_listing(source: str) -> Tex:
    """Source code for a `lstlisting` body: verbatim, its non-ASCII characters typeset through escapes.

    listings reads the body verbatim and pdflatex's listings cannot take UTF-8 multi-byte characters,
    so each non-ASCII character becomes `(*@...@*)` (the preamble's escapeinside) around its escape.
    """
    out = []
    for ch in source.replace("\t", "    "):
        out.append(ch if ord(ch) < 128 else f"(*@{escape_latex(ch)}@*)")
    text = "".join(out)
    return Tex(text.replace("\\end{lstlisting}", "\\end {lstlisting}"))


def label_name(anchor: str) -> Tex:
    """An anchor as a LaTeX label: letters, digits and colons only, so it needs no escaping anywhere."""
    return Tex(re.sub(r"[^A-Za-z0-9]+", ":", anchor))


_LATEX_LIKE = re.compile(r"\$|\\[A-Za-z]")
_SCRIPTED = re.compile(r"[_^]\{")
_TOKEN = re.compile(r"(?:[^\s{}]|\{[^{}]*\})+")
_CONNECTOR = re.compile(r"[=+\-\u2212\u00b7\u2264\u2265<>\u00d7/]|\d+|[A-Za-z]")
_SHORT_SCRIPT = re.compile(r"[(\[]?[A-Za-z\u0370-\u03ff\u00b5][_^][A-Za-z0-9\u2113\u0370-\u03ff*][)\]]?")
_TEXT_SPECIALS = re.compile(r"([{}$&#%_\\^~])")
# Unicode an author typed inside a scripted token, as the statement converter reads it in math.
_MATH_SPELLINGS = (("\u0338=", r"\ne "), ("\u2260", r"\ne "), ("\u00b5", r"\mu "), ("lim_", r"\lim_"),
                   ("log_", r"\log_"), ("max_", r"\max_"), ("min_", r"\min_"), ("sup_", r"\sup_"))


# A one-letter name with a short subscript inside running text (ν_β(x), e_max, C_in), never a Python name.
_INNER_SCRIPT = re.compile(r"(?<![A-Za-z0-9_\\\u0370-\u03ff])([A-Za-z\u0370-\u03ff])_([A-Za-z0-9\u2113\u0370-\u03ff]{1,4})"
                           r"(?![A-Za-z0-9_\u0370-\u03ff])")


def _plain_piece(text: str) -> str:
    out, last = [], 0
    for match in _INNER_SCRIPT.finditer(text):
        out.append(_escaped(text[last:match.start()]))
        base, script = match.groups()
        script = script if len(script) == 1 or not script.isalpha() else rf"\mathrm{{{script}}}"
        out.append(_math_piece(f"{base}_{{{script}}}"))
        last = match.end()
    return "".join(out) + _escaped(text[last:])


def _escaped(text: str) -> str:
    return _TEXT_SPECIALS.sub(lambda m: {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}.get(
        m.group(1), "\\" + m.group(1)), text)


def _math_piece(token: str) -> str:
    for unicode, latex in _MATH_SPELLINGS:
        token = token.replace(unicode, latex)
    token = re.sub(r"(?<![A-Za-z\\])([A-Za-z])_([A-Za-z]{2,})", r"\1_{\\mathrm{\2}}", token)  # C_in: one subscript
    return f"${token}$"


def _scripts_as_math(text: str) -> str | None:
    """Plain text whose tokens carry scripts (`n_{ℓ-1}`, `3^{-L}`, `v_ℓ`) as LaTeX with those tokens in math.

    Authors write mutant descriptions and lemma texts in this plain notation; printed as it is, a reader
    sees raw `_{...}`. A run of such tokens joined by operators (`v_ℓ = v_{ℓ-1} + 1/n_{ℓ-1}`) is one
    formula. None when the text has no such token.
    """
    if not (_SCRIPTED.search(text) or _SHORT_SCRIPT.search(text) or _INNER_SCRIPT.search(text)):
        return None
    tokens = []  # (start, end, core end, is math)
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        core = token.rstrip(",;:.")
        math = bool(_SCRIPTED.search(core) or _SHORT_SCRIPT.fullmatch(core))
        tokens.append([match.start(), match.end(), match.start() + len(core), math])
    # An operator between two scripted tokens joins them into one formula (when the left one has no
    # trailing punctuation).
    for i, t in enumerate(tokens):
        if t[3] or not _CONNECTOR.fullmatch(text[t[0]:t[1]]):
            continue
        left = next((k for k in range(i - 1, -1, -1) if not _CONNECTOR.fullmatch(text[tokens[k][0]:tokens[k][1]])
                     or tokens[k][3]), None)
        right = next((k for k in range(i + 1, len(tokens)) if not _CONNECTOR.fullmatch(
            text[tokens[k][0]:tokens[k][1]]) or tokens[k][3]), None)
        if left is not None and right is not None and tokens[left][3] and tokens[right][3] \
                and tokens[left][2] == tokens[left][1]:
            t[3] = "join"
    out, last, i = [], 0, 0
    while i < len(tokens):
        if not tokens[i][3]:
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and tokens[j + 1][3] and tokens[j][2] == tokens[j][1]:
            j += 1
        while tokens[j][3] == "join":
            j -= 1
        start, core_end, end = tokens[i][0], tokens[j][2], tokens[j][1]
        out.append(_plain_piece(text[last:start]))
        out.append(_math_piece(text[start:core_end]) + _plain_piece(text[core_end:end]))
        last, i = end, j + 1
    out.append(_plain_piece(text[last:]))
    return "".join(out)


@lru_cache(maxsize=4096)
def _prose(text: str) -> RenderedStatement | None:
    """An author's short text (a claim statement, a justification) rendered as LaTeX when it is written so.

    Text with `$...$` or a LaTeX command goes through the statement converter; plain text with scripted
    tokens (`n_{ℓ-1}`) goes through it with those tokens as math; other plain text (and text the
    converter refuses) is escaped as it is. None means: plain text.
    """
    if not _LATEX_LIKE.search(text):
        source = _scripts_as_math(text)
        if source is None:
            return None
        rendered = render_statement(source)
        return None if rendered.problems else rendered
    rendered = render_statement(text)
    return None if rendered.problems else rendered


def prose_tex(text: object) -> Tex:
    rendered = _prose(str(text))
    return escape_latex(text) if rendered is None else rendered.tex


def _transpose_sign(html: Markup) -> Markup:
    """A transpose typed as ᵀ in prose shows the ⊤ that the formulas print (and the PDF typesets for ᵀ)."""
    return Markup(str(html).replace("\u1d40", "<sup>\u22a4</sup>")) if "\u1d40" in html else html


def prose_html(text: object) -> Markup:
    rendered = _prose(str(text))
    if rendered is None:
        return _transpose_sign(Markup.escape(str(text)))
    html = str(rendered.html)
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]  # one paragraph: inline, so that it can stand in a heading or a sentence
    return _transpose_sign(Markup(html))


def _inline(html: Markup) -> Markup:
    """A one-paragraph rendering without its <p>, to stand inside a sentence."""
    text = str(html)
    if text.startswith("<p>") and text.endswith("</p>") and text.count("<p>") == 1:
        return Markup(text[3:-4])
    return Markup(text)


def _statement_tex(statement: RenderedStatement) -> Tex:
    return statement.tex


def _statement_html(statement: RenderedStatement) -> Markup:
    return statement.html


_BREAK_AFTER = re.compile(r"(\\_|(?<=[a-z0-9])\.(?=[A-Za-z_]))")


def breakable_finalize(value: object) -> str:
    """The escaping hook, then a permitted line break after `_` and after a `.` inside a dotted name.

    Prose mentions identifiers such as torch.nn.utils.fusion.fuse_conv_bn_weights, which TeX would
    otherwise refuse to break and set past the margin. Trusted `Tex` (math, statements) is unchanged.
    """
    if isinstance(value, Tex):
        return value
    text = finalize(value)
    return _BREAK_AFTER.sub(lambda m: m.group(1) + r"\allowbreak{}", text)


@jinja2.pass_context
def _math_tex(context, formula: Formula) -> Tex:
    """The LaTeX `math` filter: a formula with the natural logarithm as the document's `log_name` writes it."""
    return formula_latex(formula, context.get("log_name", "log"))


@jinja2.pass_context
def _math_html(context, formula: Formula, display: bool = False) -> Markup:
    """The HTML `math` filter: a formula with the natural logarithm as the document's `log_name` writes it."""
    return formula_mathml(formula, display, context.get("log_name", "log"))


@cache
def latex_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        block_start_string="((*", block_end_string="*))",
        variable_start_string="(((", variable_end_string=")))",
        comment_start_string="((=", comment_end_string="=))",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False, finalize=breakable_finalize, undefined=jinja2.StrictUndefined,
    )
    env.filters.update(math=_math_tex, statement=_statement_tex, e=escape_latex, escape=escape_latex,
                       listing=code_listing, label=label_name, prose=prose_tex)
    return env


@cache
def html_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(math=_math_html, statement=_statement_html, prose=prose_html, inline=_inline)
    return env
