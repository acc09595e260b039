r"""Problem statements retyped by proof authors (a small LaTeX subset): checked, then rendered for both formats.

`render_statement(source)` parses the statement once against a fixed vocabulary and returns
* `tex`: the author's source for the PDF, with bare `%`, `#` and text-mode `&` escaped and non-ASCII
  characters mapped to LaTeX commands (`latex_escape.escape_unicode`);
* `html`: paragraphs of escaped text with every `$...$`, `\(...\)`, `\[...\]`, `$$...$$` and display
  environment (`equation`, `align`, with `matrix`/`cases`/`aligned` inside) converted to MathML Core,
  plus `\emph`, `\textbf`, `\texttt`, `itemize` and `enumerate`.
A statement that uses anything outside the vocabulary (an unknown command, unbalanced braces, `_` in
text mode) is not guessed at: both formats show its source as plain text, and `problems` says why,
so the build can warn the author. Nothing in a statement is ever executed or fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from checkers.reporting.latex_escape import Tex, escape_latex, escape_unicode
from checkers.reporting.mathml import Node, math_element, serialize

__all__ = ["RenderedStatement", "render_statement"]


class _Unsupported(ValueError):
    """The statement leaves the supported LaTeX subset; the message says where."""


_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|\$\$|\s+|.", re.DOTALL)

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ϵ", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "varpi": "ϖ", "rho": "ρ", "varrho": "ϱ", "sigma": "σ", "varsigma": "ς", "tau": "τ",
    "upsilon": "υ", "phi": "ϕ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
    "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
_IDENTIFIERS = {
    "infty": "∞", "partial": "∂", "nabla": "∇", "ell": "ℓ", "emptyset": "∅", "varnothing": "∅", "hbar": "ℏ",
    "top": "⊤", "bot": "⊥", "imath": "ı", "jmath": "ȷ",
}
_OPERATORS = {
    "pm": "±", "mp": "∓", "times": "×", "div": "÷", "cdot": "⋅", "ast": "∗", "star": "⋆", "circ": "∘",
    "bullet": "∙", "oplus": "⊕", "otimes": "⊗", "odot": "⊙", "cup": "∪", "cap": "∩", "setminus": "∖",
    "wedge": "∧", "vee": "∨", "land": "∧", "lor": "∨", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥",
    "ne": "≠", "neq": "≠", "approx": "≈", "equiv": "≡", "sim": "∼", "simeq": "≃", "cong": "≅",
    "propto": "∝", "ll": "≪", "gg": "≫", "in": "∈", "notin": "∉", "ni": "∋", "subset": "⊂", "subseteq": "⊆",
    "supset": "⊃", "supseteq": "⊇", "to": "→", "rightarrow": "→", "leftarrow": "←", "gets": "←",
    "Rightarrow": "⇒", "Leftarrow": "⇐", "Leftrightarrow": "⇔", "iff": "⟺", "implies": "⟹",
    "mapsto": "↦", "leftrightarrow": "↔", "mid": "∣", "parallel": "∥", "perp": "⊥", "forall": "∀",
    "exists": "∃", "neg": "¬", "lnot": "¬", "colon": ":", "ldots": "…", "cdots": "⋯", "dots": "…",
    "vdots": "⋮", "ddots": "⋱", "langle": "⟨", "rangle": "⟩", "lvert": "|", "rvert": "|", "vert": "|",
    "lVert": "‖", "rVert": "‖", "Vert": "‖", "lceil": "⌈", "rceil": "⌉", "lfloor": "⌊", "rfloor": "⌋",
    "coloneqq": "≔", "triangleq": "≜", "preceq": "⪯", "succeq": "⪰", "prec": "≺", "succ": "≻",
    "uparrow": "↑", "downarrow": "↓", "prime": "′", "dagger": "†", "sqcup": "⊔", "cdotp": "·",
}
_LARGE_OPERATORS = {"sum": "∑", "prod": "∏", "int": "∫", "iint": "∬", "oint": "∮", "bigcup": "⋃",
                    "bigcap": "⋂", "coprod": "∐"}
_FUNCTIONS = {"log", "ln", "exp", "det", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arctan", "arcsin",
              "arccos", "sec", "cot", "arg", "deg", "dim", "ker", "gcd", "Pr", "hom", "lg"}
_LIMIT_FUNCTIONS = {"max", "min", "sup", "inf", "lim", "liminf", "limsup", "argmax", "argmin"}
_ACCENTS = {"hat": "^", "widehat": "^", "bar": "\u203e", "overline": "\u203e", "tilde": "~", "widetilde": "~",
            "vec": "→", "dot": "˙", "ddot": "¨", "check": "ˇ", "breve": "˘"}
_SPACES = {",": "0.1667em", ":": "0.2222em", ";": "0.2778em", " ": "0.25em", "quad": "1em", "qquad": "2em",
           "!": "0em", "enspace": "0.5em"}
_IGNORED = {"displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "nonumber", "notag"}
_BIG = {"big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "bigm"}
_DELIMITERS = {"(": "(", ")": ")", "[": "[", "]": "]", "|": "|", "\\{": "{", "\\}": "}", "\\|": "‖",
               ".": "", "/": "/", "<": "⟨", ">": "⟩"}
_MATRIX_FENCES = {"matrix": ("", ""), "pmatrix": ("(", ")"), "bmatrix": ("[", "]"), "Bmatrix": ("{", "}"),
                  "vmatrix": ("|", "|"), "Vmatrix": ("‖", "‖"), "smallmatrix": ("", ""), "cases": ("{", ""),
                  "aligned": ("", ""), "gathered": ("", ""), "split": ("", "")}
_DISPLAY_ENVIRONMENTS = {"equation", "equation*", "align", "align*", "gather", "gather*", "multline",
                         "multline*", "displaymath"}
_LIST_ENVIRONMENTS = {"itemize": "ul", "enumerate": "ol"}
_FONTS = {"mathrm": "normal", "mathit": "italic", "mathbf": "bold", "boldsymbol": "bold", "bm": "bold",
          "mathbb": "double-struck", "mathcal": "script", "mathfrak": "fraktur", "mathsf": "sans-serif",
          "mathtt": "monospace"}
_TEXT_COMMANDS = {"emph": "em", "textit": "em", "textbf": "strong", "texttt": "code", "textrm": "",
                  "text": "", "mbox": "", "textsf": "", "textup": "", "textnormal": ""}
_TEXT_SYMBOLS = {"ldots": "…", "dots": "…", "S": "§", "P": "¶", "textendash": "–", "textemdash": "—",
                 "\\%": "%", "\\&": "&", "\\#": "#", "\\$": "$", "\\_": "_", "\\{": "{", "\\}": "}",
                 "\\,": "\u2009", "\\;": " ", "\\ ": " ", "\\:": " ", "quad": "\u2003", "qquad": "\u2003\u2003",
                 "textbackslash": "\\", "noindent": "", "medskip": "", "smallskip": "", "bigskip": "",
                 "\\-": "", "\\/": "", "textquoteleft": "‘", "textquoteright": "’", "slash": "/"}

# Offsets into the Unicode Mathematical Alphanumeric Symbols block, with the letters that live elsewhere.
_ALPHABETS = {
    "bold": (0x1D400, 0x1D41A, 0x1D7CE, {}),
    "italic": (0x1D434, 0x1D44E, None, {"h": "ℎ"}),
    "script": (0x1D49C, 0x1D4B6, None, {"B": "ℬ", "E": "ℰ", "F": "ℱ", "H": "ℋ", "I": "ℐ", "L": "ℒ", "M": "ℳ",
                                        "R": "ℛ", "e": "ℯ", "g": "ℊ", "o": "ℴ"}),
    "fraktur": (0x1D504, 0x1D51E, None, {"C": "ℭ", "H": "ℌ", "I": "ℑ", "R": "ℜ", "Z": "ℨ"}),
    "double-struck": (0x1D538, 0x1D552, 0x1D7D8, {"C": "ℂ", "H": "ℍ", "N": "ℕ", "P": "ℙ", "Q": "ℚ", "R": "ℝ",
                                                   "Z": "ℤ"}),
    "sans-serif": (0x1D5A0, 0x1D5BA, 0x1D7E2, {}),
    "monospace": (0x1D670, 0x1D68A, 0x1D7F6, {}),
}
_BOLD_GREEK = {c: chr(0x1D6A8 + i) for i, c in enumerate("ΑΒΓΔΕΖΗΘϴΙΚΛΜΝΞΟΠΡϴΣΤΥΦΧΨΩ")}


def _styled(text: str, style: str) -> str:
    if style in ("normal", ""):
        return text
    upper, lower, digits, exceptions = _ALPHABETS[style]
    out = []
    for ch in text:
        if ch in exceptions:
            out.append(exceptions[ch])
        elif "A" <= ch <= "Z":
            out.append(chr(upper + ord(ch) - ord("A")))
        elif "a" <= ch <= "z":
            out.append(chr(lower + ord(ch) - ord("a")))
        elif digits is not None and "0" <= ch <= "9":
            out.append(chr(digits + ord(ch) - ord("0")))
        else:
            out.append(ch)
    return "".join(out)


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
            rows = self.math_rows(end=name)
            aligned = name.startswith(("align", "gather", "multline"))
            body = self.table(rows, "", "") if aligned or len(rows) > 1 else rows[0][0]
            out.blocks.append(serialize(math_element([body], display=True)))
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

    # -- math mode ----------------------------------------------------------------------------------
    def math_until(self, closing: str, display: bool) -> str:
        nodes = self.math(stops={closing})
        if self.peek() != closing:
            raise _Unsupported(f"math opened but never closed with {closing}")
        self.take()
        return serialize(math_element(nodes or [Node("mrow")], display))

    def math(self, stops: set[str]) -> list[Node]:
        nodes: list[Node] = []
        scripted = False  # the last atom already carries scripts: another ^ or _ is a TeX error
        while True:
            token = self.peek()
            if token is None or token in stops:
                return nodes
            if token.isspace():
                self.take()
                continue
            if token in ("^", "_"):
                if scripted:
                    raise _Unsupported(f"double {'superscript' if token == '^' else 'subscript'} (use braces)")
                self.take()
                base = nodes.pop() if nodes else Node.row()
                nodes.append(self.scripts(base, first=token))
                scripted = True
                continue
            scripted = False
            node = self.atom()
            if node is not None:
                nodes.append(node)

    def scripts(self, base: Node, first: str) -> Node:
        sub = sup = None
        marker = first
        while True:
            arg = self.argument()
            if marker == "_":
                if sub is not None:
                    raise _Unsupported("double subscript")
                sub = arg
            else:
                if sup is not None:
                    raise _Unsupported("double superscript")
                sup = arg
            nxt = self.peek(skip_space=True)
            if nxt in ("^", "_") and ((nxt == "_" and sub is None) or (nxt == "^" and sup is None)):
                self.skip_space()
                marker = self.take()
                continue
            break
        under = base.attrs.pop("data-limits", None) == "under"
        if under:
            if sub is not None and sup is not None:
                return Node("munderover", [base, sub, sup])
            return Node("munder", [base, sub]) if sub is not None else Node("mover", [base, sup])
        if sub is not None and sup is not None:
            return Node("msubsup", [base, sub, sup])
        return Node("msub", [base, sub]) if sub is not None else Node("msup", [base, sup])

    def argument(self) -> Node:
        """One macro argument or script: a braced group, or a single token."""
        self.skip_space()
        token = self.peek()
        if token is None:
            raise _Unsupported("missing argument at the end of the statement")
        if token == "{":
            self.take()
            nodes = self.math(stops={"}"})
            if self.peek() != "}":
                raise _Unsupported("unclosed '{' in math")
            self.take()
            return nodes[0] if len(nodes) == 1 else Node("mrow", nodes)
        node = self.atom(single=True)
        return node if node is not None else Node.row()

    def text_argument(self) -> str:
        """The content of a {...} argument in text mode (\\text, \\operatorname), as plain text."""
        self.expect("{")
        inner = _Html()
        self.text(inner, "}", inline_only=True)
        text = "".join(inner.inline)
        if "<" in text:
            raise _Unsupported("markup inside \\text{...} in math")
        from html import unescape

        return unescape(text)

    def atom(self, single: bool = False) -> Node | None:
        """One math atom; `single`: a macro argument without braces, so `12` is only `1`."""
        token = self.take()
        if token == "{":
            nodes = self.math(stops={"}"})
            if self.peek() != "}":
                raise _Unsupported("unclosed '{' in math")
            self.take()
            return Node("mrow", nodes)
        if token == "}":
            raise _Unsupported("unmatched '}' in math")
        if token.isdigit() or token == ".":
            number = token
            while not single and self.peek() is not None and (self.peek().isdigit() or (self.peek() == "." and "." not in number)):
                number += self.take()
            return Node.leaf("mn", number)
        if token.isalpha() and not token.startswith("\\"):
            if token in "ΓΔΘΛΞΠΣΥΦΨΩ":
                return Node.leaf("mi", token, mathvariant="normal")
            return Node.leaf("mi", token)
        if token in ("$", "$$"):
            raise _Unsupported("a '{' group in math is not closed before the closing $")
        if token in ("%", "#", "&"):
            raise _Unsupported(f"{token!r} in math outside an alignment environment")
        if token == "'":
            return Node.leaf("mo", "′")
        if token == "-":
            return Node.leaf("mo", "−")
        if token == "~":
            return Node("mspace", attrs={"width": "0.25em"})
        if not token.startswith("\\"):
            return Node.leaf("mo", token)
        return self.command(token)

    def command(self, token: str) -> Node | None:
        name = token[1:]
        if name in _GREEK:
            char = _GREEK[name]
            return Node.leaf("mi", char, mathvariant="normal") if name[0].isupper() else Node.leaf("mi", char)
        if name in _IDENTIFIERS:
            return Node.leaf("mi", _IDENTIFIERS[name])
        if name in _OPERATORS:
            return Node.leaf("mo", _OPERATORS[name])
        if token in ("\\{", "\\}", "\\|"):
            return Node.leaf("mo", {"\\{": "{", "\\}": "}", "\\|": "‖"}[token])
        if token in ("\\%", "\\#", "\\&", "\\$", "\\_"):
            return Node.leaf("mi", token[1])
        if name in _SPACES:
            return Node("mspace", attrs={"width": _SPACES[name]})
        if name in _IGNORED:
            return None
        if name in _LARGE_OPERATORS:
            node = Node.leaf("mo", _LARGE_OPERATORS[name], largeop="true")
            if not name.endswith("int"):
                node.attrs["data-limits"] = "under"
            return node
        if name in _FUNCTIONS:
            return Node("mrow", [Node.leaf("mi", name), Node.leaf("mo", "\u2061")])
        if name in _LIMIT_FUNCTIONS:
            label = {"argmax": "arg max", "argmin": "arg min", "liminf": "lim inf", "limsup": "lim sup"}.get(name, name)
            return Node.leaf("mi", label, **{"data-limits": "under"})
        if name in ("operatorname", "operatorname*"):
            node = Node.leaf("mi", self.text_argument().strip() or " ", mathvariant="normal")
            if name.endswith("*"):
                node.attrs["data-limits"] = "under"
            return node
        if name in ("text", "textrm", "mbox", "textit", "textbf", "textsf", "texttt", "textup", "textnormal"):
            return Node.leaf("mtext", self.text_argument())
        if name in _FONTS:
            return self.styled(_FONTS[name])
        if name in ("frac", "dfrac", "tfrac", "cfrac"):
            return Node("mfrac", [self.argument(), self.argument()])
        if name == "binom":
            top, bottom = self.argument(), self.argument()
            return Node("mrow", [Node.leaf("mo", "("), Node("mfrac", [top, bottom], attrs={"linethickness": "0"}),
                                 Node.leaf("mo", ")")])
        if name == "sqrt":
            if self.peek(skip_space=True) == "[":
                self.skip_space()
                self.take()
                index = Node("mrow", self.math(stops={"]"}))
                if self.peek() != "]":
                    raise _Unsupported("unclosed \\sqrt[...]")
                self.take()
                return Node("mroot", [self.argument(), index])
            return Node("msqrt", [self.argument()])
        if name in _ACCENTS:
            return Node("mover", [self.argument(), Node.leaf("mo", _ACCENTS[name], stretchy="true")],
                        attrs={"accent": "true"})
        if name == "underline":
            return Node("munder", [self.argument(), Node.leaf("mo", "_", stretchy="true")])
        if name in ("overset", "stackrel"):
            over, base = self.argument(), self.argument()
            return Node("mover", [base, over])
        if name == "underset":
            under, base = self.argument(), self.argument()
            return Node("munder", [base, under])
        if name == "not":
            nxt = self.argument()
            negated = {"=": "≠", "∈": "∉", "≤": "≰", "≥": "≱", "∼": "≁", "≡": "≢", "⊂": "⊄"}.get(nxt.text)
            if negated is None:
                raise _Unsupported("\\not before something other than =, \\in, \\le, \\ge, \\sim, \\equiv, \\subset")
            return Node.leaf("mo", negated)
        if name == "left":
            return self.left_right()
        if name in _BIG:
            return Node.leaf("mo", self.delimiter(), stretchy="false")
        if name == "begin":
            env = self.braced_word()
            if env not in _MATRIX_FENCES:
                raise _Unsupported(f"unknown math environment {env}")
            rows = self.math_rows(end=env)
            return self.table(rows, *_MATRIX_FENCES[env], align_left=env == "cases")
        raise _Unsupported(f"unknown math command {token}")

    def styled(self, style: str) -> Node:
        node = self.argument()
        for leaf in node.iter():
            if leaf.tag in ("mi", "mn") and leaf.text:
                text = leaf.text
                if style == "bold" and all(c in _BOLD_GREEK for c in text):
                    leaf.text = "".join(_BOLD_GREEK[c] for c in text)
                else:
                    leaf.text = _styled(text, style)
                if style == "normal" or len(leaf.text) > 1 or leaf.text != text:
                    leaf.attrs["mathvariant"] = "normal"
        return node

    def delimiter(self) -> str:
        self.skip_space()
        token = self.take()
        if token.startswith("\\") and token[1:] in _OPERATORS:
            return _OPERATORS[token[1:]]
        if token not in _DELIMITERS:
            raise _Unsupported(f"unknown delimiter {token!r}")
        return _DELIMITERS[token]

    def left_right(self) -> Node:
        opening = self.delimiter()
        inner = self.math(stops={"\\right"})
        if self.peek() != "\\right":
            raise _Unsupported("\\left without \\right")
        self.take()
        closing = self.delimiter()
        parts = ([Node.leaf("mo", opening)] if opening else []) + inner
        parts += [Node.leaf("mo", closing)] if closing else []
        return Node("mrow", parts)

    def math_rows(self, end: str) -> list[list[Node]]:
        """Rows (split at \\\\) of cells (split at &) until \\end{end}."""
        rows: list[list[Node]] = [[]]
        while True:
            cell = self.math(stops={"&", "\\\\", "\\end"})
            rows[-1].append(Node("mrow", cell))
            token = self.peek()
            if token is None:
                raise _Unsupported(f"missing \\end{{{end}}}")
            self.take()
            if token == "&":
                continue
            if token == "\\\\":
                rows.append([])
                continue
            if self.braced_word() != end:
                raise _Unsupported(f"\\begin{{{end}}} closed by another environment")
            if rows[-1] == [Node("mrow", [])] and len(rows) > 1:
                rows.pop()  # a trailing \\
            return rows

    @staticmethod
    def table(rows: list[list[Node]], opening: str, closing: str, align_left: bool = False) -> Node:
        trs = [Node("mtr", [Node("mtd", [cell]) for cell in row]) for row in rows]
        attrs = {"columnalign": "left"} if align_left else {}
        table = Node("mtable", trs, attrs=attrs)
        parts = ([Node.leaf("mo", opening)] if opening else []) + [table]
        parts += [Node.leaf("mo", closing)] if closing else []
        return Node("mrow", parts)


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
