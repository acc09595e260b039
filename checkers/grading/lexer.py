r"""Tokens of student formulas: one regular-expression scan of LaTeX or plain text, then context fixes.

The scan turns `\mathrm{tr}` and `tr` into one FUNC token, drops spacing commands, splits TeX's
single-token arguments (`\frac12`, `\frac d2`, `x^23`, `\sqrt x`), decides whether each `|` opens or
closes, and marks a function followed by a bracket as a call (`\log(x)^2` is (log x)^2). The one
thing it knows of the problem is its Vocabulary (declared names and functions): a word of declared
single letters that is not itself a declared name is their product (`AA^T` is A·Aᵀ; `Sigma`, `mu_0`
stay names, and so does a word in `\mathit{...}` or `\mathrm{...}`), and a declared function name
(`\sigma` as the sigmoid) is read as a function.
Malformed numbers (`1.1.1`) and literals over 30 digits are refused. Unknown commands (`\input`,
`\def`, `\csname`) are refused here, so nothing downstream ever sees them; nothing is ever executed.
Errors are StudentInputError with the position of the bad text.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from lark import Token
from lark.lexer import Lexer

from checkers.errors import StudentInputError

MAX_TOKENS = 800
MAX_DEPTH = 40
MAX_NUMBER_DIGITS = 30

_SCAN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<cmd>\\[A-Za-z]+)
  | (?P<cmdsym>\\.)
  | (?P<badnumber>(?=[.\d]*\d)\d*\.\d*\.[.\d]*)
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<word>[A-Za-z]+\d*)
  | (?P<op>\*\*|[-+*/^_'(){}\[\]|=&~,<>])
""", re.VERBOSE | re.DOTALL)

GREEK = frozenset("""
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi varpi
    rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma
    Upsilon Phi Psi Omega ell
""".split())

# Commands that change only how a symbol looks, or the spacing: dropped.
_IGNORED = frozenset("""
    quad qquad displaystyle textstyle scriptstyle limits nolimits mathbf boldsymbol bm vec pmb mathbfit
    big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr middle thinspace medspace thickspace
    negthinspace negmedspace negthickspace enspace enskip
""".split())
_IGNORED_SYMBOLS = frozenset({"\\,", "\\;", "\\:", "\\!", "\\ ", "\\>"})

# `\operatorname{tr}`, `\mathrm{det}`, `\text{tr}`: the word in braces is read as if typed bare.
_WORD_WRAPPERS = frozenset({"operatorname", "mathrm", "text", "textrm", "textup", "rm", "mathsf", "textnormal",
                            "mathit", "textit", "it"})

# Bare words (plain text or unwrapped) that name functions, and the canonical function they mean.
FUNCTION_WORDS = {
    "log": "log", "ln": "log", "exp": "exp", "det": "det", "tr": "tr", "Tr": "tr", "trace": "tr",
    "sqrt": "sqrt", "inv": "inv", "logdet": "logdet", "max": "max", "min": "min", "tanh": "tanh",
    "sigmoid": "sigmoid", "ReLU": "relu", "relu": "relu", "Relu": "relu", "RELU": "relu", "sin": "sin",
    "cos": "cos",
}
_FUNCTION_COMMANDS = {"log": "log", "ln": "log", "exp": "exp", "det": "det", "tr": "tr", "Tr": "tr", "max": "max",
                      "min": "min", "tanh": "tanh", "sin": "sin", "cos": "cos"}
_EXTREMA = frozenset({"max", "min"})
# Accents make a new name (`\hat{x}`, `\bar x`): a symbol only where the problem declares that spelling.
_ACCENTS = frozenset({"hat", "widehat", "bar", "overline", "tilde", "widetilde", "check", "breve", "dot", "ddot"})  # `\max_j x_j`: with a subscript they range over an index
_MULTIPLY_COMMANDS = frozenset({"cdot", "times", "ast", "cdotp"})
# The indicator 1[x_k = max_j x_j]: `\mathbb{1}`, `\mathbf{1}`, `\mathds{1}`, `\mathbbm{1}`, `\mathbb{I}`, `\mathbf 1`.
_INDICATOR_FONTS = frozenset({"mathbb", "mathbf", "mathds", "mathbbm", "boldsymbol", "bm"})
# Matrix environments; vmatrix is the determinant of its entries.
MATRIX_ENVIRONMENTS = frozenset({"pmatrix", "bmatrix", "Bmatrix", "vmatrix", "matrix", "smallmatrix"})

_OPS = {"**": "CARET", "^": "CARET", "_": "SUB", "'": "PRIME", "*": "MUL", "/": "DIV", "+": "PLUS",
        "-": "MINUS", "=": "EQ", "(": "LPAR", ")": "RPAR", "[": "LBRACK", "]": "RBRACK", "{": "LBRACE",
        "}": "RBRACE", ",": "COMMA", "<": "LT", ">": "GT"}
_OPENERS = {"LPAR": "RPAR", "LBRACK": "RBRACK", "LBRACE": "RBRACE", "LCURLY": "RCURLY", "ABSL": "ABSR",
            "NORML": "NORMR", "MATL": "MATR"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_ENDS_OPERAND = frozenset({"NAME", "NUMBER", "RPAR", "RBRACK", "RBRACE", "RCURLY", "ABSR", "NORMR", "PRIME",
                           "TOP", "MATR"})
# After these, TeX reads a single token as the argument: `x^23` is x^2 3, `\frac d2` is d/2, `\sqrt x y`.
_TAKES_ONE = frozenset({"CARET", "SUB", "FRAC", "SQRT"})

TERMINALS = ("NUMBER", "NAME", "FUNC", "FCALL", "FRAC", "SQRT", "SUM", "PROD", "EXTREMUM", "TOP", "CARET", "SUB",
             "PRIME", "MUL", "DIV", "PLUS", "MINUS", "EQ", "COMMA", "LPAR", "RPAR", "LBRACK", "RBRACK", "LBRACE",
             "RBRACE", "LCURLY", "RCURLY", "ABSL", "ABSR", "NORML", "NORMR", "BAR", "NORM", "MATL", "MATR", "AMP",
             "ROWSEP", "LE", "GE", "NE", "LT", "GT", "INDICATOR")

MAX_SHOWN_DIGITS = 30
_LONG_NUMBER = re.compile(r"\d{%d,}" % (MAX_SHOWN_DIGITS + 1))


def abbreviate_number(digits: str) -> str:
    """`1234…7890 (45 digits)` for a digit string longer than 30 digits; shorter ones unchanged."""
    if len(digits) <= MAX_SHOWN_DIGITS:
        return digits
    return f"{digits[:10]}…{digits[-10:]} ({len(digits)} digits)"


def abbreviate_numbers(message: str) -> str:
    """The message with every run of more than 30 digits abbreviated (messages never print longer numbers)."""
    return _LONG_NUMBER.sub(lambda m: abbreviate_number(m.group()), message)


@dataclass(frozen=True)
class Vocabulary:
    """What the lexer needs to know of a problem: its declared names (as typed, letters only) and functions.

    A word made of declared single letters that is not itself a declared name is split into letters
    (`AA` is A·A when A is declared, `xx` is x·x); a declared function name (`\\sigma` for the
    sigmoid) is read as a function, so `\\sigma(z)^2` is (σ(z))².
    """

    words: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    phrases: frozenset[str] = frozenset()  # declared spellings with brackets, e.g. h0'(x1) for `h_0'(x_1)` (keys)

    @property
    def letters(self) -> frozenset[str]:
        return frozenset(w for w in self.words if len(w) == 1)


NO_VOCABULARY = Vocabulary()
_VOCABULARY: ContextVar[Vocabulary] = ContextVar("vocabulary", default=NO_VOCABULARY)


@contextmanager
def vocabulary(vocab: Vocabulary):
    """Within this block, the lexer (called by lark) splits and classifies words with `vocab`."""
    token = _VOCABULARY.set(vocab)
    try:
        yield
    finally:
        _VOCABULARY.reset(token)


def _fail(text: str, pos: int, why: str) -> StudentInputError:
    snippet = text[max(0, pos - 12):pos + 12].replace("\n", " ")
    return StudentInputError(abbreviate_numbers(f"{why} at position {pos + 1} (near `{snippet}`)"))


def _scan(text: str) -> tuple[list[tuple[str, str, int]], bool]:
    """Raw (kind, text, position) triples, and whether the input is LaTeX (has commands or braces)."""
    raw: list[tuple[str, str, int]] = []
    pos, latex = 0, False
    while pos < len(text):
        m = _SCAN.match(text, pos)
        if m is None:
            raise _fail(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        if kind == "badnumber":
            raise _fail(text, pos, f"malformed number `{abbreviate_number(m.group())}` (a number has at most "
                                   f"one decimal point)")
        if kind != "ws":
            raw.append((kind, m.group(), pos))
            latex = latex or kind in ("cmd", "cmdsym") or m.group() == "{"
        pos = m.end()
        if len(raw) > MAX_TOKENS:
            raise StudentInputError(f"the answer has more than {MAX_TOKENS} symbols; write it more compactly")
    return raw, latex


def _token(kind: str, value: str, pos: int) -> Token:
    return Token(kind, value, start_pos=pos, end_pos=pos + max(len(value), 1))


def _unwrap_words(raw, text):
    """`\\mathrm{tr}` -> word `tr`; `\\mathrm{\\Sigma}` -> `\\Sigma`; other wrapped content stays grouped."""
    out = []
    i = 0
    while i < len(raw):
        kind, value, pos = raw[i]
        if kind == "cmd" and value[1:] in _WORD_WRAPPERS:
            if (i + 3 < len(raw) and raw[i + 1][1] == "{" and raw[i + 3][1] == "}"
                    and raw[i + 2][0] in ("word", "cmd", "number")):
                kind, word, at = raw[i + 2]
                out.append(("wholeword" if kind == "word" else kind, word, at))  # \mathit{test} is one name
                i += 4
                continue
            if i + 1 < len(raw) and raw[i + 1][0] == "word":  # \mathrm T: one letter, as TeX takes one token
                kind, word, at = raw[i + 1]
                out.append(("wholeword", word[0], at))
                if len(word) > 1:
                    out.append(("number" if word[1:].isdigit() else "word", word[1:], at + 1))
                i += 2
                continue
            raise _fail(text, pos, f"{value}{{...}} may hold one word (a function name such as tr, or a symbol)")
        out.append(raw[i])
        i += 1
    return out


def _environment(raw, i):
    """The environment name of `\\begin{name}` / `\\end{name}` at raw[i], or None."""
    if i + 3 < len(raw) and raw[i + 1][1] == "{" and raw[i + 2][0] == "word" and raw[i + 3][1] == "}":
        return raw[i + 2][1]
    return None


def _log_base(raw, i):
    """(base, pieces used) for `_2`, `_{10}`, `_e` after a log at raw[i - 1]; (None, 0) if there is none."""
    if i + 1 < len(raw) and raw[i][1] == "_":
        nxt = raw[i + 1]
        if nxt[0] == "number" and nxt[1].isdigit():
            if len(nxt[1]) > 1:  # TeX reads one digit: \log_23 is log_2 3
                raw[i + 1] = ("number", nxt[1][1:], nxt[2] + 1)
                return nxt[1][0], 1
            return nxt[1], 2
        if nxt[0] == "word" and nxt[1] == "e":
            return "e", 2
        if (i + 3 < len(raw) and nxt[1] == "{" and raw[i + 2][0] in ("number", "word") and raw[i + 3][1] == "}"
                and (raw[i + 2][1].isdigit() or raw[i + 2][1] == "e")):
            return raw[i + 2][1], 4
    return None, 0


class _Classifier:
    """Maps raw pieces to grammar terminals in order, keeping the context TeX's argument rules need."""

    def __init__(self, raw, text: str, latex: bool, vocab: Vocabulary):
        self.raw, self.text, self.latex, self.vocab = raw, text, latex, vocab
        self.letters = vocab.letters
        self.toks: list[Token] = []
        self.braces: list[bool] = []  # per open `{`: is it the first argument of a \frac?
        self.closed_frac_first = False  # the last token closed a \frac's braced first argument
        self.matrices = 0  # open matrix environments

    def emit(self, kind: str, value: str, pos: int) -> None:
        closed = False
        if kind == "LBRACE":
            self.braces.append(bool(self.toks) and self.toks[-1].type == "FRAC")
        elif kind == "RBRACE" and self.braces:
            closed = self.braces.pop()
        self.toks.append(_token(kind, value, pos))
        self.closed_frac_first = closed

    def takes_one(self) -> bool:
        """Whether the next token is a TeX single-token argument (of ^, _, \\frac or \\sqrt)."""
        toks = self.toks
        prev = toks[-1].type if toks else None
        return prev in _TAKES_ONE or self.closed_frac_first or (
            len(toks) >= 2 and toks[-2].type == "FRAC" and prev in ("NUMBER", "NAME", "TOP"))

    def run(self) -> list[Token]:
        raw = self.raw
        i = 0
        while i < len(raw):
            i = self.step(i)
        return self.toks

    def step(self, i: int) -> int:
        """Classify raw[i] (and any pieces it consumes); return the index of the next unread piece."""
        raw, text = self.raw, self.text
        kind, value, pos = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        if kind == "cmd":
            return self.command(i, value[1:], value, pos, nxt)
        if kind == "cmdsym":
            if value in _IGNORED_SYMBOLS:
                pass
            elif value == "\\|":
                self.emit("NORM", value, pos)
            elif value == "\\{":
                self.emit("LCURLY", value, pos)
            elif value == "\\}":
                self.emit("RCURLY", value, pos)
            elif value == "\\\\":
                if not self.matrices:
                    raise _fail(text, pos, "a line break \\\\ (use check-steps for multi-line derivations)")
                self.emit("ROWSEP", value, pos)
            else:
                raise _fail(text, pos, f"unsupported LaTeX command {value}")
            return i + 1
        if kind == "word":
            return self.word(i, value, pos)
        if kind == "wholeword":
            return self.whole_word(i, value, pos)
        if kind == "number":
            return self.number(i, value, pos)
        # op
        if value == "&":
            if self.matrices:
                self.emit("AMP", value, pos)
        elif value == "~":
            pass
        elif value == "|":
            self.emit("BAR", value, pos)
        else:
            self.emit(_OPS[value], value, pos)
        return i + 1

    def command(self, i: int, name: str, value: str, pos: int, nxt) -> int:
        raw, text = self.raw, self.text
        if name in _INDICATOR_FONTS and self.indicator_at(i + 1):
            self.emit("INDICATOR", value, pos)
            return i + (4 if raw[i + 1][1] == "{" else 2)
        if name in _IGNORED:
            pass
        elif name in ("left", "right"):
            if nxt is not None and (nxt[1] in ("|", "\\|", "\\vert", "\\Vert") or nxt[1] == "."):
                if nxt[1] != ".":
                    opener = name == "left"
                    norm = nxt[1] in ("\\|", "\\Vert")
                    kind_name = ("NORML" if opener else "NORMR") if norm else ("ABSL" if opener else "ABSR")
                    self.emit(kind_name, nxt[1], nxt[2])
                return i + 2
            if nxt is None:
                raise _fail(text, pos, f"{value} without a delimiter")
        elif name in ("begin", "end"):
            env = _environment(raw, i)
            if env not in MATRIX_ENVIRONMENTS:
                shown = f"{{{env}}}" if env else ""
                raise _fail(text, pos, f"unsupported environment {value}{shown} (matrices: "
                                       f"{', '.join(sorted(MATRIX_ENVIRONMENTS))})")
            if name == "begin":
                self.matrices += 1
                self.emit("MATL", env, pos)
            else:
                if not self.matrices:
                    raise _fail(text, pos, f"\\end{{{env}}} without \\begin{{{env}}}")
                self.matrices -= 1
                self.emit("MATR", env, pos)
            return i + 4
        elif name in ("lvert", "rvert"):
            self.emit("ABSL" if name == "lvert" else "ABSR", value, pos)
        elif name in ("lVert", "rVert"):
            self.emit("NORML" if name == "lVert" else "NORMR", value, pos)
        elif name in ("vert", "mid"):
            self.emit("BAR", value, pos)
        elif name == "Vert":
            self.emit("NORM", value, pos)
        elif name == "log":
            return self.function("log", i, pos)
        elif name in _FUNCTION_COMMANDS:
            return self.function(_FUNCTION_COMMANDS[name], i, pos)
        elif name in ("frac", "dfrac", "tfrac", "cfrac"):
            self.emit("FRAC", value, pos)
        elif name == "sqrt":
            self.emit("SQRT", value, pos)
        elif name == "sum":
            self.emit("SUM", value, pos)
        elif name == "prod":
            self.emit("PROD", value, pos)
        elif name in _MULTIPLY_COMMANDS:
            self.emit("MUL", value, pos)
        elif name == "div":
            self.emit("DIV", value, pos)
        elif name in ("top", "intercal"):
            self.emit("TOP", value, pos)
        elif name in ("le", "leq", "leqslant"):
            self.emit("LE", value, pos)
        elif name in ("ge", "geq", "geqslant"):
            self.emit("GE", value, pos)
        elif name in ("ne", "neq"):
            self.emit("NE", value, pos)
        elif name in _ACCENTS:
            return self.accent(i, name, pos)
        elif name in GREEK:
            self.emit("FUNC" if name in self.vocab.functions else "NAME", value, pos)
        else:
            raise _fail(text, pos, f"unsupported LaTeX command {value}")
        return i + 1

    def indicator_at(self, j: int) -> bool:
        """Whether raw[j:] is the `{1}` / `1` / `{I}` of an indicator's font command."""
        raw = self.raw
        if j + 2 < len(raw) and raw[j][1] == "{" and raw[j + 2][1] == "}":
            one, after = raw[j + 1][1] in ("1", "I"), j + 3
        else:
            one, after = j < len(raw) and raw[j][1] == "1", j + 1
        # only before its condition: `\mathbf{1}^T x` stays a bold one
        return one and after < len(raw) and raw[after][1] in ("[", "\\{", "(", "_")

    def accent(self, i: int, name: str, pos: int) -> int:
        r"""`\hat{x}`, `\hat x`, `\bar{\mu}`: one NAME spelled with its accent (looked up as, e.g., `hatx`)."""
        raw = self.raw
        if i + 3 < len(raw) and raw[i + 1][1] == "{" and raw[i + 3][1] == "}" and (
                raw[i + 2][0] == "word" or raw[i + 2][1][1:] in GREEK):
            inner, used = raw[i + 2][1], 4
        elif i + 1 < len(raw) and (raw[i + 1][0] == "word" or raw[i + 1][1][1:] in GREEK):
            inner, used = raw[i + 1][1], 2
            if raw[i + 1][0] == "word" and len(inner) > 1:  # TeX: \hat xy is \hat{x} y
                raw.insert(i + 2, ("word", inner[1:], raw[i + 1][2] + 1))
                inner = inner[0]
        else:
            raise _fail(self.text, pos, f"\\{name} takes one letter or Greek symbol, e.g. \\{name}{{x}}")
        self.emit("NAME", f"\\{name}{{{inner}}}", pos)
        return i + used

    def function(self, canonical: str, i: int, pos: int) -> int:
        """A function name at raw[i]: `\\log_2` takes its base, `\\max_j` becomes an EXTREMUM over an index."""
        if canonical == "log":
            base, used = _log_base(self.raw, i + 1)
            if base is not None and len(base) > MAX_NUMBER_DIGITS:
                raise _fail(self.text, pos, f"the number {abbreviate_number(base)} has more than "
                                            f"{MAX_NUMBER_DIGITS} digits")
            if base is not None:
                self.emit("FUNC", "log" if base == "e" else f"log_{base}", pos)
                return i + 1 + used
        if canonical in _EXTREMA:
            j = i + 1
            while j < len(self.raw) and self.raw[j][1] in ("\\limits", "\\nolimits"):
                j += 1
            if j < len(self.raw) and self.raw[j][1] == "_":
                self.emit("EXTREMUM", canonical, pos)
                return j
        self.emit("FUNC", canonical, pos)
        return i + 1

    def phrase(self, i: int) -> tuple[str, int] | None:
        """(key, next index) where raw[i:] spells a declared bracketed name (`h_0'(x_1)`, spacing and braces aside)."""
        longest = max(map(len, self.vocab.phrases))
        text = ""
        for j in range(i, len(self.raw)):
            text += self.raw[j][1].replace("\\", "").replace("{", "").replace("}", "").replace("_", "")
            if text in self.vocab.phrases:
                return text, j + 1
            if len(text) >= longest or not any(p.startswith(text) for p in self.vocab.phrases):
                return None
        return None

    def word(self, i: int, value: str, pos: int) -> int:
        raw = self.raw
        found = self.phrase(i) if self.vocab.phrases else None
        if found is not None:  # a declared function's value at a point, h_0'(x_1): one name
            self.emit("NAME", found[0], pos)
            return found[1]
        prev = self.toks[-1].type if self.toks else None
        one = prev in ("CARET", "SUB") or (self.latex and self.takes_one())
        if one and len(value) > 1:
            # TeX reads one letter as a script or argument: x^Tx is x^T x, n_kx is n_k x, \frac dx is d/x.
            rest = value[1:]
            raw.insert(i + 1, ("number" if rest.isdigit() else "word", rest, pos + 1))
            value = value[0]
        if value in FUNCTION_WORDS:
            return self.function(FUNCTION_WORDS[value], i, pos)
        letters = value.rstrip("0123456789")
        if letters in self.vocab.functions:
            self.emit("FUNC", value, pos)
            return i + 1
        if (len(letters) > 1 and letters not in self.vocab.words and letters not in GREEK
                and all(ch in self.letters for ch in letters)):
            # Juxtaposed declared letters are a product: AA^T is A·Aᵀ, xx^T is x·xᵀ (digits stay on the last).
            for k, ch in enumerate(letters[:-1]):
                self.emit("NAME", ch, pos + k)
            self.emit("NAME", value[len(letters) - 1:], pos + len(letters) - 1)
            return i + 1
        self.emit("NAME", value, pos)
        return i + 1

    def whole_word(self, i: int, value: str, pos: int) -> int:
        r"""A word in `\mathrm{...}` / `\mathit{...}` / `\operatorname{...}`: a function, a declared name, or one
        unknown name spelled as typed (`\mathit{test}` is never t·e·s·t)."""
        letters = value.rstrip("0123456789")
        if value in FUNCTION_WORDS or letters in self.vocab.functions or len(letters) <= 1 or letters in self.vocab.words:
            return self.word(i, value, pos)
        start = self.text.rfind("\\", 0, pos)
        end = self.text.find("}", pos)
        self.emit("NAME", self.text[start:end + 1] if start >= 0 and end >= 0 else value, pos)
        return i + 1

    def number(self, i: int, value: str, pos: int) -> int:
        digits = value.replace(".", "")
        if len(digits) > MAX_NUMBER_DIGITS:
            raise _fail(self.text, pos, f"the number {abbreviate_number(digits)} has more than "
                                        f"{MAX_NUMBER_DIGITS} digits")
        # TeX reads one digit as the argument of ^, _ and \frac: x^23 is x^2 3, \frac12 is 1/2.
        if self.latex and self.takes_one() and len(value) > 1 and value[0] != "." and value[1] != ".":
            self.emit("NUMBER", value[0], pos)
            self.raw.insert(i + 1, ("number", value[1:], pos + 1))
        else:
            self.emit("NUMBER", value, pos)
        return i + 1


def _classify(raw, text, latex: bool, vocab: Vocabulary = NO_VOCABULARY) -> list[Token]:
    """Map raw pieces to grammar terminals; refuse unknown commands."""
    return _Classifier(raw, text, latex, vocab).run()


def _resolve_bars_and_calls(toks: list[Token], text: str) -> list[Token]:
    """Decide `|` / `\\|` open-or-close with a delimiter stack; mark FUNC + bracket as a call; cap nesting."""
    out: list[Token] = []
    stack: list[str] = []
    for tok in toks:
        t = tok.type
        if t in ("BAR", "NORM"):
            opener, closer = ("ABSL", "ABSR") if t == "BAR" else ("NORML", "NORMR")
            prev = out[-1].type if out else None
            if stack and stack[-1] == opener and prev in _ENDS_OPERAND:
                t = closer
            else:
                t = opener
            tok = _token(t, tok.value, tok.start_pos)
        if t in _OPENERS:
            if out and out[-1].type == "FUNC" and t in ("LPAR", "LBRACK", "LBRACE", "LCURLY"):
                out.append(_token("FCALL", "", tok.start_pos))
            stack.append(t)
            if len(stack) > MAX_DEPTH:
                raise _fail(text, tok.start_pos, f"brackets nested more than {MAX_DEPTH} deep")
        elif t in _CLOSERS:
            if not stack:
                raise _fail(text, tok.start_pos, f"unbalanced {tok.value!r}: nothing to close")
            if stack[-1] != _CLOSERS[t]:
                raise _fail(text, tok.start_pos, f"unbalanced brackets: {tok.value!r} closes a different bracket")
            stack.pop()
        out.append(tok)
    if stack:
        names = {"LPAR": "(", "LBRACK": "[", "LBRACE": "{", "LCURLY": "\\{", "ABSL": "|", "NORML": "\\|",
                 "MATL": "\\begin{...}"}
        raise StudentInputError(f"unbalanced brackets: {names[stack[-1]]!r} is never closed")
    return out


def tokenize(text: str, vocab: Vocabulary | None = None) -> list[Token]:
    """The grammar terminals of one formula, or StudentInputError saying what is wrong and where.

    `vocab` (default: the one set by `vocabulary(...)`, else none) is the problem's declared names.
    """
    raw, latex = _scan(text)
    raw = _unwrap_words(raw, text)
    return _resolve_bars_and_calls(_classify(raw, text, latex, vocab or _VOCABULARY.get()), text)


class FormulaLexer(Lexer):
    """lark's hook for our tokenizer (lark then runs its LALR parser on these tokens)."""

    def __init__(self, lexer_conf):
        pass

    def lex(self, data):
        return iter(tokenize(data, _VOCABULARY.get()))
