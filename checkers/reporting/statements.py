r"""Problem statements retyped by proof authors (LaTeX text with math): checked, then rendered for both formats.

`render_statement(source)` reads the statement's text structure here (paragraphs, `\emph`, `\textbf`,
`\texttt`, `itemize`, `enumerate`) and hands every formula (`$...$`, `\(...\)`, `\[...\]`, `$$...$$`,
`equation`/`align`/`gather` environments, with `matrix`/`cases`/`aligned` inside) to latex2mathml, a
maintained pure-Python LaTeX-to-MathML converter (offline: no network, no JavaScript), whose output
`mathml.to_core` reduces to MathML Core. It returns
* `tex`: the author's source for the PDF, with bare `%`, `#` and text-mode `&` escaped and non-ASCII
  characters mapped to LaTeX commands (`latex_escape.escape_unicode`);
* `html`: paragraphs of escaped text with the MathML.
A statement that latex2mathml cannot convert, or that uses a command it does not know (it would print
the command's name), an unknown environment, unbalanced braces or `_` in text mode, is not guessed at:
both formats show its source as plain text, and `problems` says why, so the build can warn the author.
Nothing in a statement is ever executed or fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from checkers.reporting.latex_escape import Tex, escape_latex, escape_unicode
from checkers.reporting.mathml import Node, math_element, serialize, to_core

__all__ = ["RenderedStatement", "render_statement"]


class _Unsupported(ValueError):
    """The statement leaves the supported LaTeX subset; the message says where."""


_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|\$\$|\s+|.", re.DOTALL)

_DISPLAY_ENVIRONMENTS = {"equation", "equation*", "align", "align*", "gather", "gather*", "multline",
                         "multline*", "displaymath"}
_LIST_ENVIRONMENTS = {"itemize": "ul", "enumerate": "ol"}
_TEXT_COMMANDS = {"emph": "em", "textit": "em", "textbf": "strong", "texttt": "code", "textrm": "",
                  "text": "", "mbox": "", "textsf": "", "textup": "", "textnormal": ""}
_TEXT_SYMBOLS = {"ldots": "…", "dots": "…", "S": "§", "P": "¶", "textendash": "–", "textemdash": "—",
                 "\\%": "%", "\\&": "&", "\\#": "#", "\\$": "$", "\\_": "_", "\\{": "{", "\\}": "}",
                 "\\,": "\u2009", "\\;": " ", "\\ ": " ", "\\:": " ", "quad": "\u2003", "qquad": "\u2003\u2003",
                 "textbackslash": "\\", "noindent": "", "medskip": "", "smallskip": "", "bigskip": "",
                 "\\-": "", "\\/": "", "textquoteleft": "‘", "textquoteright": "’", "slash": "/"}


@dataclass(frozen=True)
class RenderedStatement:
    """A statement in both formats; `problems` is non-empty when the source was shown as plain text."""

    tex: Tex
    html: Markup
    problems: tuple[str, ...] = ()


@dataclass
class _Html:
    """Paragraph assembly: inline pieces collect into the current paragraph until a block arrives."""

    blocks: list[str] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)

    def flush(self):
        text = "".join(self.inline).strip()
        if text:
            self.blocks.append(f"<p>{text}</p>")
        self.inline = []


class _Parser:
    def __init__(self, source: str):
        self.tokens = _TOKEN.findall(source)
        self.pos = 0
        self.tex: list[str] = []  # the sanitized LaTeX, token by token

    # -- token cursor -------------------------------------------------------------------------------
    def peek(self, skip_space: bool = False) -> str | None:
        i = self.pos
        while skip_space and i < len(self.tokens) and self.tokens[i].isspace():
            i += 1
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, fixed: str | None = None) -> str:
        if self.pos >= len(self.tokens):
            raise _Unsupported("unexpected end of the statement (an unclosed brace, $ or environment?)")
        token = self.tokens[self.pos]
        self.pos += 1
        self.tex.append(token if fixed is None else fixed)
        return token

    def skip_space(self):
        while self.peek() is not None and self.peek().isspace():
            self.take()

    def expect(self, token: str):
        self.skip_space()
        got = self.take()
        if got != token:
            raise _Unsupported(f"expected {token!r} but found {got!r}")

    def braced_word(self) -> str:
        """The content of `{name}` after \\begin or \\end."""
        self.expect("{")
        word = []
        while self.peek() != "}":
            word.append(self.take())
        self.take()
        return "".join(word)

    # -- text mode ----------------------------------------------------------------------------------
    def document(self) -> str:
        out = _Html()
        self.text(out, stop=None)
        out.flush()
        return "".join(out.blocks)

    def text(self, out: _Html, stop: str | None, inline_only: bool = False):
        """Text until `stop` ("}" or an environment name); blocks (display math, lists) unless inline_only."""
        while True:
            token = self.peek()
            if token is None:
                if stop is not None:
                    raise _Unsupported("missing " + ("}" if stop == "}" else "\\end{" + stop + "}"))
                return
            if token == "}":
                if stop != "}":
                    raise _Unsupported("unmatched '}'")
                self.take()
                return
            if token.isspace():
                self.take()
                out.inline.append(" " if token.count("\n") < 2 else "\n\n")
                if token.count("\n") >= 2:
                    if inline_only:
                        raise _Unsupported("a paragraph break inside a command argument")
                    out.flush()
                continue
            if token in ("$", "\\("):
                self.take()
                out.inline.append(self.math_until("$" if token == "$" else "\\)", display=False))
                continue
            if token in ("$$", "\\["):
                if inline_only:
                    raise _Unsupported("display math inside a command argument")
                self.take()
                out.flush()
                out.blocks.append(self.math_until("$$" if token == "$$" else "\\]", display=True))
                continue
            if token == "\\begin":
                if inline_only:
                    raise _Unsupported("an environment inside a command argument")
                self.take()
                self.environment(out, self.braced_word())
                continue
            if token == "\\end":
                self.take()
                name = self.braced_word()
                if name != stop:
                    raise _Unsupported(f"\\end{{{name}}} without a matching \\begin")
                return
            if token == "\\item":
                if stop not in _LIST_ENVIRONMENTS:
                    raise _Unsupported("\\item outside itemize/enumerate")
                self.take()
                if self.peek(skip_space=True) == "[":
                    raise _Unsupported("\\item[...] labels are not supported")
                out.flush()
                out.blocks.append("</li><li>")
                continue
            self.text_token(out)

    def text_token(self, out: _Html):
        token = self.peek()
        if token == "{":
            self.take()
            self.text(out, "}", inline_only=True)
            return
        if token == "\\\\":
            self.take()
            out.inline.append("<br/>")
            return
        key = (token if token in _TEXT_SYMBOLS else token[1:]) if token.startswith("\\") else None
        if key in _TEXT_SYMBOLS:
            self.take()
            out.inline.append(str(escape(_TEXT_SYMBOLS[key])))
            if key.isalpha():
                self.skip_space()
            return
        if token.startswith("\\") and token[1:] in _TEXT_COMMANDS:
            self.take()
            tag = _TEXT_COMMANDS[token[1:]]
            self.expect("{")
            inner = _Html()
            self.text(inner, "}", inline_only=True)
            content = "".join(inner.inline)
            out.inline.append(f"<{tag}>{content}</{tag}>" if tag else content)
            return
        if token.startswith("\\"):
            raise _Unsupported(f"unknown command {token}")
        if token in ("^", "_"):
            raise _Unsupported(f"{token!r} outside math (write it inside $...$)")
        if token in ("%", "#", "&"):
            self.take("\\" + token)
            out.inline.append(str(escape(token)))
            return
        self.take()
        if token == "~":
            out.inline.append("\u00a0")
        elif token == "-" and self.peek() == "-":
            self.take()
            if self.peek() == "-":
                self.take()
                out.inline.append("—")
            else:
                out.inline.append("–")
        elif token in ("`", "'") and self.peek() == token:
            self.take()
            out.inline.append("“" if token == "`" else "”")
        elif token == "`":
            out.inline.append("‘")
        else:
            out.inline.append(str(escape(token)))

    def environment(self, out: _Html, name: str):
        if name in _DISPLAY_ENVIRONMENTS:
            out.flush()
            out.blocks.append(self.display_environment(name))
            return
        if name in _LIST_ENVIRONMENTS:
            out.flush()
            tag = _LIST_ENVIRONMENTS[name]
            inner = _Html()
            self.text(inner, name)
            inner.flush()
            items = "".join(inner.blocks)
            if not items.startswith("</li><li>"):
                raise _Unsupported(f"text before the first \\item in {name}")
            out.blocks.append(f"<{tag}>{items[len('</li>'):]}</li></{tag}>")
            return
        raise _Unsupported(f"unknown environment {name}")

    # -- math mode: the source is collected here and converted by latex2mathml ---------------------------------
    def raw_until(self, closing: set[str]) -> str:
        """The math source up to (not including) a closing token at brace depth 0, copied to the TeX output."""
        depth, out = 0, []
        while True:
            token = self.peek()
            if token is None:
                raise _Unsupported("math opened but never closed" + (" (an unclosed '{'?)" if depth else ""))
            if depth == 0 and token in closing:
                return "".join(out)
            if token == "{":
                depth += 1
            elif token == "}":
                depth -= 1
                if depth < 0:
                    raise _Unsupported("unmatched '}' in math")
            elif token in ("$", "$$", "\\)", "\\]") and (depth > 0 or token not in closing):
                raise _Unsupported(f"a '{{' group in math is not closed before {token}")
            out.append(self.take())

    def math_until(self, closing: str, display: bool) -> str:
        source = self.raw_until({closing})
        self.take()
        return math_markup(source, display)

    def display_environment(self, name: str) -> str:
        """`\\begin{name}` has been read: the body up to the matching `\\end{name}`, as one display formula."""
        body = []
        while True:
            body.append(self.raw_until({"\\end", "\\begin"}))
            token = self.take()
            word = self.braced_word()
            if token == "\\begin":
                if word not in _INNER_ENVIRONMENTS:
                    raise _Unsupported(f"unknown math environment {word}")
                body.append("\\begin{" + word + "}" + self.raw_until({"\\end"}))
                self.take()
                if self.braced_word() != word:
                    raise _Unsupported(f"\\begin{{{word}}} closed by another environment")
                body.append("\\end{" + word + "}")
                continue
            if word != name:
                raise _Unsupported(f"\\begin{{{name}}} closed by \\end{{{word}}}")
            source = "".join(body)
            if name.startswith(("align", "gather", "multline")):
                source = f"\\begin{{{name.rstrip('*')}*}}{source}\\end{{{name.rstrip('*')}*}}"
            return math_markup(source, display=True)


# Environments allowed inside math, and how latex2mathml is asked for each (it has no `aligned`).
_INNER_ENVIRONMENTS = {"matrix": "matrix", "pmatrix": "pmatrix", "bmatrix": "bmatrix", "Bmatrix": "Bmatrix",
                       "vmatrix": "vmatrix", "Vmatrix": "Vmatrix", "smallmatrix": "matrix", "cases": "cases",
                       "aligned": "array}{rlrlrl", "split": "array}{rl", "gathered": "array}{c", "array": "array"}
_ENVIRONMENT = re.compile(r"\\(begin|end)\{(" + "|".join(_INNER_ENVIRONMENTS) + r")\}")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"


def _for_latex2mathml(source: str) -> str:
    """The author's math in the dialect latex2mathml reads: `aligned` as an array, `\\operatorname*` plain."""
    def environment(match: re.Match) -> str:
        kind, name = match.groups()
        target = _INNER_ENVIRONMENTS[name]
        return f"\\{kind}{{{target if kind == 'begin' else target.split('}')[0]}}}"
    source = _ENVIRONMENT.sub(environment, source)
    return source.replace("\\operatorname*", "\\operatorname")


_FUNCTION_NAMES = frozenset("ln log lg exp sin cos tan sinh cosh tanh arg max min sup inf lim Pr tr sgn".split())
_ROWS = frozenset({"math", "mrow", "mtd", "mstyle", "mpadded"})  # containers whose children read left to right
_SCRIPTED = frozenset({"msub", "msup", "msubsup", "munder", "mover", "munderover"})


def _is_function_name(node: Node) -> bool:
    """`\\ln`, `\\log_2`, `\\max_j`: a named function, alone or carrying its scripts."""
    if node.tag in _SCRIPTED and node.children:
        node = node.children[0]
    return node.tag == "mi" and node.text in _FUNCTION_NAMES


def _space_function_names(node: Node) -> None:
    """The thin spaces TeX sets around `\\ln`, `\\log`, `\\max`, ... that latex2mathml leaves out ("E ln P", not
    "ElnP"): before one that follows a letter or number, after one not followed by a bracket or an operator."""
    for child in node.children:
        _space_function_names(child)
    if node.tag not in _ROWS:
        return
    spaced: list[Node] = []
    kids = node.children
    for index, child in enumerate(kids):
        if not _is_function_name(child):
            spaced.append(child)
            continue
        if spaced and spaced[-1].tag != "mo" and spaced[-1].tag != "mspace":
            spaced.append(Node("mspace", attrs={"width": "0.1667em"}))
        spaced.append(child)
        after = kids[index + 1] if index + 1 < len(kids) else None
        if after is not None and after.tag != "mo":
            spaced.append(Node("mspace", attrs={"width": "0.1667em"}))
    node.children[:] = spaced


def _node(element) -> Node:
    tag = element.tag.removeprefix(_MATHML_NS)
    children = [_node(child) for child in element]
    return Node(tag, children, (element.text or "").strip() if not children else "", dict(element.attrib))


def math_markup(source: str, display: bool) -> str:
    """`<math>` markup (MathML Core) for the author's math source, converted by latex2mathml."""
    return serialize(math_element(math_nodes(source) or [Node("mrow")], display))


def math_nodes(source: str) -> list[Node]:
    """The MathML Core nodes of the author's math source, converted by latex2mathml.

    latex2mathml prints a command it does not know as the command's name; such a statement is
    refused (`_Unsupported`) rather than shown with a stray backslash, as is one it cannot convert.
    """
    from xml.etree import ElementTree

    from latex2mathml.converter import convert

    try:
        markup = convert(_for_latex2mathml(source))
        root = ElementTree.fromstring(markup)
    except ElementTree.ParseError as exc:
        raise _Unsupported(f"math that cannot be converted: {source.strip()[:60]!r}") from exc
    except Exception as exc:  # latex2mathml's own errors name the problem in their class name
        words = re.sub(r"(?<!^)([A-Z])", r" \1", type(exc).__name__.removesuffix("Error")).lower()
        raise _Unsupported(f"{words} in math: {source.strip()[:60]!r}") from exc
    tree = to_core(_node(root))
    _space_function_names(tree)
    for node in tree.iter():
        if node.text.startswith("\\"):
            raise _Unsupported(f"unknown math command {node.text}")
        if node.tag == "mfrac" and len(node.children) != 2:
            raise _Unsupported("\\frac needs two arguments")
    content = tree.children if len(tree.children) != 1 or tree.children[0].tag != "mrow" else \
        tree.children[0].children
    return list(content)


def _strip_private(html: str) -> str:
    return re.sub(r' data-limits="[^"]*"', "", html)


def render_statement(source: str) -> RenderedStatement:
    """Both renderings of an author's statement; an unsupported one is shown as its plain source."""
    if not source.strip():
        return RenderedStatement(Tex(""), Markup(""))
    parser = _Parser(source)
    try:
        html = _strip_private(parser.document())
    except _Unsupported as exc:
        problem = f"{exc} (at token {parser.pos} of the statement)"
        return RenderedStatement(Tex(r"\texttt{" + escape_latex(source) + "}"),
                                 Markup(f'<p class="source">{escape(source)}</p>'), (problem,))
    return RenderedStatement(escape_unicode("".join(parser.tex)), Markup(html))
