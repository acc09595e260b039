r"""Tokens of student formulas: one regular-expression scan of LaTeX or plain text, then context fixes.

The scan knows nothing about the problem; it turns `\mathrm{tr}` and `tr` into one FUNC token, drops
spacing commands, splits TeX's single-token arguments (`\frac12`, `x^23`), decides whether each `|`
opens or closes, and marks a function followed by a bracket as a call (`\log(x)^2` is (log x)^2).
Unknown commands (`\input`, `\def`, `\csname`) are refused here, so nothing downstream ever sees
them; nothing is ever executed. Errors are StudentInputError with the position of the bad text.
"""

from __future__ import annotations

import re

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
  | (?P<number>\d+(?:\.\d*)?|\.\d+)
  | (?P<word>[A-Za-z]+\d*)
  | (?P<op>\*\*|[-+*/^_'(){}\[\]|=&~])
""", re.VERBOSE | re.DOTALL)

GREEK = frozenset("""
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi varpi
    rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma
    Upsilon Phi Psi Omega ell
""".split())

# Commands that change only how a symbol looks, or the spacing: dropped.
_IGNORED = frozenset("""
    quad qquad displaystyle textstyle scriptstyle limits nolimits mathbf boldsymbol bm vec pmb mathbfit
    big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr middle
""".split())
_IGNORED_SYMBOLS = frozenset({"\\,", "\\;", "\\:", "\\!", "\\ ", "\\>"})

# `\operatorname{tr}`, `\mathrm{det}`, `\text{tr}`: the word in braces is read as if typed bare.
_WORD_WRAPPERS = frozenset({"operatorname", "mathrm", "text", "textrm", "textup", "rm", "mathsf", "textnormal"})

# Bare words (plain text or unwrapped) that name functions, and the canonical function they mean.
FUNCTION_WORDS = {
    "log": "log", "ln": "log", "exp": "exp", "det": "det", "tr": "tr", "Tr": "tr", "trace": "tr",
    "sqrt": "sqrt", "inv": "inv", "logdet": "logdet",
}
_FUNCTION_COMMANDS = {"log": "log", "ln": "log", "exp": "exp", "det": "det", "tr": "tr", "Tr": "tr"}
_MULTIPLY_COMMANDS = frozenset({"cdot", "times", "ast", "cdotp"})

_OPS = {"**": "CARET", "^": "CARET", "_": "SUB", "'": "PRIME", "*": "MUL", "/": "DIV", "+": "PLUS",
        "-": "MINUS", "=": "EQ", "(": "LPAR", ")": "RPAR", "[": "LBRACK", "]": "RBRACK", "{": "LBRACE",
        "}": "RBRACE"}
_OPENERS = {"LPAR": "RPAR", "LBRACK": "RBRACK", "LBRACE": "RBRACE", "LCURLY": "RCURLY", "ABSL": "ABSR",
            "NORML": "NORMR"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_ENDS_OPERAND = frozenset({"NAME", "NUMBER", "RPAR", "RBRACK", "RBRACE", "RCURLY", "ABSR", "NORMR", "PRIME",
                           "TOP"})

TERMINALS = ("NUMBER", "NAME", "FUNC", "FCALL", "FRAC", "SQRT", "SUM", "PROD", "TOP", "CARET", "SUB", "PRIME",
             "MUL", "DIV", "PLUS", "MINUS", "EQ", "LPAR", "RPAR", "LBRACK", "RBRACK", "LBRACE", "RBRACE",
             "LCURLY", "RCURLY", "ABSL", "ABSR", "NORML", "NORMR", "BAR", "NORM")


def _fail(text: str, pos: int, why: str) -> StudentInputError:
    snippet = text[max(0, pos - 12):pos + 12].replace("\n", " ")
    return StudentInputError(f"{why} at position {pos + 1} (near `{snippet}`)")


def _scan(text: str) -> tuple[list[tuple[str, str, int]], bool]:
    """Raw (kind, text, position) triples, and whether the input is LaTeX (has commands or braces)."""
    raw: list[tuple[str, str, int]] = []
    pos, latex = 0, False
    while pos < len(text):
        m = _SCAN.match(text, pos)
        if m is None:
            raise _fail(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
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
                out.append(raw[i + 2])
                i += 4
                continue
            if i + 1 < len(raw) and raw[i + 1][0] == "word":  # \mathrm T
                out.append(raw[i + 1])
                i += 2
                continue
            raise _fail(text, pos, f"{value}{{...}} may hold one word (a function name such as tr, or a symbol)")
        out.append(raw[i])
        i += 1
    return out


def _classify(raw, text, latex: bool) -> list[Token]:
    """Map raw pieces to grammar terminals; refuse unknown commands."""
    toks: list[Token] = []
    i = 0
    while i < len(raw):
        kind, value, pos = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        if kind == "cmd":
            name = value[1:]
            if name in _IGNORED:
                pass
            elif name in ("left", "right"):
                if nxt is not None and (nxt[1] in ("|", "\\|", "\\vert", "\\Vert") or nxt[1] == "."):
                    i += 1
                    if nxt[1] != ".":
                        opener = name == "left"
                        norm = nxt[1] in ("\\|", "\\Vert")
                        kind_name = ("NORML" if opener else "NORMR") if norm else ("ABSL" if opener else "ABSR")
                        toks.append(_token(kind_name, nxt[1], nxt[2]))
                elif nxt is None:
                    raise _fail(text, pos, f"{value} without a delimiter")
            elif name in ("lvert", "rvert"):
                toks.append(_token("ABSL" if name == "lvert" else "ABSR", value, pos))
            elif name in ("lVert", "rVert"):
                toks.append(_token("NORML" if name == "lVert" else "NORMR", value, pos))
            elif name in ("vert", "mid"):
                toks.append(_token("BAR", value, pos))
            elif name == "Vert":
                toks.append(_token("NORM", value, pos))
            elif name in _FUNCTION_COMMANDS:
                toks.append(_token("FUNC", _FUNCTION_COMMANDS[name], pos))
            elif name in ("frac", "dfrac", "tfrac", "cfrac"):
                toks.append(_token("FRAC", value, pos))
            elif name == "sqrt":
                toks.append(_token("SQRT", value, pos))
            elif name == "sum":
                toks.append(_token("SUM", value, pos))
            elif name == "prod":
                toks.append(_token("PROD", value, pos))
            elif name in _MULTIPLY_COMMANDS:
                toks.append(_token("MUL", value, pos))
            elif name in ("top", "intercal"):
                toks.append(_token("TOP", value, pos))
            elif name in GREEK:
                toks.append(_token("NAME", value, pos))
            else:
                raise _fail(text, pos, f"unsupported LaTeX command {value}")
        elif kind == "cmdsym":
            if value in _IGNORED_SYMBOLS:
                pass
            elif value == "\\|":
                toks.append(_token("NORM", value, pos))
            elif value == "\\{":
                toks.append(_token("LCURLY", value, pos))
            elif value == "\\}":
                toks.append(_token("RCURLY", value, pos))
            elif value == "\\\\":
                raise _fail(text, pos, "a line break \\\\ (use check-steps for multi-line derivations)")
            else:
                raise _fail(text, pos, f"unsupported LaTeX command {value}")
        elif kind == "word":
            prev = toks[-1].type if toks else None
            if prev in ("CARET", "SUB") and len(value) > 1:
                # TeX reads one letter as a script: x^Tx is x^T x, n_kx is n_k x.
                rest = value[1:]
                raw.insert(i + 1, ("number" if rest.isdigit() else "word", rest, pos + 1))
                value = value[0]
            if value in FUNCTION_WORDS:
                toks.append(_token("FUNC", FUNCTION_WORDS[value], pos))
            else:
                toks.append(_token("NAME", value, pos))
        elif kind == "number":
            digits = value.replace(".", "")
            if len(digits) > MAX_NUMBER_DIGITS:
                raise _fail(text, pos, f"a number with more than {MAX_NUMBER_DIGITS} digits")
            # TeX reads one digit as the argument of ^, _ and \frac: x^23 is x^2 3, \frac12 is 1/2.
            prev = toks[-1].type if toks else None
            takes_one = prev in ("CARET", "SUB", "FRAC", "SQRT") or (
                len(toks) >= 2 and toks[-2].type == "FRAC" and prev in ("NUMBER", "NAME"))
            if latex and takes_one and len(value) > 1 and value[0] != "." and value[1] != ".":
                toks.append(_token("NUMBER", value[0], pos))
                raw.insert(i + 1, ("number", value[1:], pos + 1))
            else:
                toks.append(_token("NUMBER", value, pos))
        else:  # op
            if value in ("&", "~"):
                pass
            elif value == "|":
                toks.append(_token("BAR", value, pos))
            else:
                toks.append(_token(_OPS[value], value, pos))
        i += 1
    return toks


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
        names = {"LPAR": "(", "LBRACK": "[", "LBRACE": "{", "LCURLY": "\\{", "ABSL": "|", "NORML": "\\|"}
        raise StudentInputError(f"unbalanced brackets: {names[stack[-1]]!r} is never closed")
    return out


def tokenize(text: str) -> list[Token]:
    """The grammar terminals of one formula, or StudentInputError saying what is wrong and where."""
    raw, latex = _scan(text)
    raw = _unwrap_words(raw, text)
    return _resolve_bars_and_calls(_classify(raw, text, latex), text)


class FormulaLexer(Lexer):
    """lark's hook for our tokenizer (lark then runs its LALR parser on these tokens)."""

    def __init__(self, lexer_conf):
        pass

    def lex(self, data):
        return iter(tokenize(data))
