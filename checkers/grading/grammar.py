r"""The grammar of student formulas (LaTeX and plain text) and its LALR parser, built once per process.

Operator precedence, loosest first: `+ -`; products, explicit (`* / \cdot`) or implicit (`2x`,
`x^T \Sigma^{-1} x`), all at one level and left to right, so `1/2 x` is x/2 as in most computer
algebra systems; unary signs; function application; scripts (`_`, `^`, `'`). A function without
brackets takes the implicit product after it up to the next function, sum or extremum, as TeX's
readers (and sympy's) do: `\operatorname{tr} \Sigma_1^{-1}\Sigma_0` is tr(Σ₁⁻¹Σ₀), `\sin a \cos b` is
sin(a)·cos(b), `\log n \max_j x_j` is log(n)·max_j x_j; a function right after it is its argument
(`\log \det \Sigma_1` is log(det Σ₁)). With brackets it takes the bracket only (`\log(x) y` is
log(x)·y); `\max(a, b)` takes a list. A `\sum`, and a `\max_j` / `\min_j` over an index,
takes the product and quotient after it, up to the next `+`/`-`. Matrices are `\begin{pmatrix}` rows of
`&`-separated entries split by `\\`. An indicator `\mathbb{1}[a = b]` (or `\{a \ge b\}`, `_{a < b}`) is 1 where its
condition holds, else 0.
lark resolves the one shift/reduce choice this leaves (extend the argument) as a shift.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path

from lark import Lark, Tree
from lark.exceptions import UnexpectedInput

from checkers.errors import StudentInputError
from checkers.grading.lexer import TERMINALS, FormulaLexer, Vocabulary, vocabulary

GRAMMAR = r"""
?start: expr

?expr: expr PLUS term      -> add
     | expr MINUS term     -> sub
     | term

?term: term MUL signed     -> mul
     | term DIV signed     -> div
     | term factor         -> imul
     | signed

?signed: MINUS signed      -> neg
       | PLUS signed       -> pos
       | factor

?factor: postfix
       | operator

?operator: FUNC FCALL bracketed          -> call
         | FUNC FCALL bracketed scripts  -> call
         | FUNC FCALL arguments          -> call
         | FUNC FCALL arguments scripts  -> call
         | FUNC operand                  -> apply
         | SUM limits term               -> sum
         | PROD limits term              -> prod
         | EXTREMUM limits term          -> extremum

?operand: plain
        | operator

?plain: plain postfix -> imul
      | postfix

arguments: LPAR expr (COMMA expr)+ RPAR
         | LCURLY expr (COMMA expr)+ RCURLY
         | LBRACK expr (COMMA expr)+ RBRACK

limits: SUB LBRACE NAME EQ expr RBRACE CARET texarg
      | CARET texarg SUB LBRACE NAME EQ expr RBRACE   -> limits_reversed
      | SUB LBRACE expr LE NAME LE expr RBRACE         -> limits_between
      | SUB texarg                                    -> limits_index

?postfix: atom
        | atom scripts             -> scripted

scripts: script+
?script: SUB texarg                -> subscript
       | CARET suparg              -> superscript
       | PRIME                     -> prime

?suparg: texarg
       | MINUS texarg              -> neg
       | PLUS texarg               -> pos

?texarg: NUMBER                    -> number
       | NAME                      -> name
       | TOP                       -> top
       | LPAR expr RPAR            -> group
       | LBRACE expr RBRACE        -> group
       | LCURLY expr RCURLY        -> group
       | LBRACE expr COMMA expr RBRACE -> index_pair
       | FRAC texarg texarg        -> frac

?bracketed: LPAR expr RPAR         -> group
          | LBRACK expr RBRACK     -> group
          | LBRACE expr RBRACE     -> group
          | LCURLY expr RCURLY     -> group

?atom: NUMBER                      -> number
     | NAME                        -> name
     | TOP                         -> top
     | bracketed
     | ABSL expr ABSR              -> abs
     | NORML expr NORMR            -> norm
     | FRAC texarg texarg          -> frac
     | SQRT texarg                 -> sqrt
     | SQRT LBRACK expr RBRACK texarg -> root
     | MATL rows MATR              -> matrix
     | INDICATOR LBRACK condition RBRACK -> indicator
     | INDICATOR LCURLY condition RCURLY -> indicator
     | INDICATOR LPAR condition RPAR     -> indicator
     | INDICATOR SUB LBRACE condition RBRACE -> indicator

condition: expr (EQ | LE | GE | NE | LT | GT) expr

rows: row (ROWSEP row)* ROWSEP?
row: expr (AMP expr)*

%declare """ + " ".join(TERMINALS) + "\n"

_DESCRIBE = {
    "RPAR": "')'", "RBRACK": "']'", "RBRACE": "'}'", "RCURLY": "'\\}'", "ABSR": "a closing '|'",
    "NORMR": "a closing '\\|'", "$END": "the end of the answer", "EQ": "'='",
}


def parser(positions: bool = False) -> Lark:
    """The LALR parser (built on first use; forked grading workers inherit it).

    Recording source positions in the tree costs about as much as parsing, so the fast parser skips
    them; the one with positions re-reads an answer only to quote the student's text in an error.
    """
    return _parser(bool(positions))  # one cache entry per variant, however the flag is passed


def _cache_file(positions: bool) -> str | bool:
    """Where lark keeps this variant's grammar analysis: a folder of the user's own, or False (build each time).

    The analysis (about 0.15 s per variant, 0.01 s to load) is stored with a digest of the grammar, the
    options and the lark version, so a changed grammar is rebuilt. The file is a pickle, so it is kept
    only in a folder that this user owns and nobody else can write (never the shared temporary folder).
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "proofcheck"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = base.stat()
    except OSError:
        return False
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        return False
    return str(base / f"grammar-lalr-{'positions' if positions else 'plain'}.lark")


@cache
def _parser(positions: bool) -> Lark:
    quiet = logging.getLogger("lark")
    level = quiet.level
    # the documented shift/reduce preference is a debug note; an unreadable cache file (a concurrent
    # writer) is rebuilt by lark and needs no report
    quiet.setLevel(logging.CRITICAL)
    try:
        return Lark(GRAMMAR, parser="lalr", lexer=FormulaLexer, propagate_positions=positions,
                    maybe_placeholders=False, cache=_cache_file(positions))
    finally:
        quiet.setLevel(level)


def parse_tree(text: str, positions: bool = False, vocab: Vocabulary | None = None) -> Tree:
    """The parse tree of one formula, or StudentInputError naming where it stops making sense.

    `vocab` is the problem's declared names (juxtaposed declared letters are products, declared
    functions are applied); without it every word is one name.
    """
    try:
        if vocab is None:
            return parser(positions).parse(text)
        with vocabulary(vocab):
            return parser(positions).parse(text)
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        if token is None or token.type == "$END":
            raise StudentInputError("the answer ends too early (an operator or argument is missing)") from None
        pos = token.start_pos or 0
        snippet = text[max(0, pos - 12):pos + 12].replace("\n", " ")
        found = "'" + str(token.value) + "'" if token.value else token.type
        raise StudentInputError(f"cannot read the answer at position {pos + 1}: unexpected {found} "
                                f"(near `{snippet}`)") from None
