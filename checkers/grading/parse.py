"""Student text -> sympy expression for one problem: length cap, Unicode normalisation, grammar, construction."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from checkers.errors import StudentInputError
from checkers.grading.build import SymbolTable, build
from checkers.grading.grammar import parse_tree

if TYPE_CHECKING:
    from checkers.grading.problem import Problem

MAX_LENGTH = 2000

# Characters students paste from rendered math, mapped to what they stand for.
_UNICODE = {
    "−": "-", "–": "-", "·": r"\cdot ", "×": r"\times ", "⋅": r"\cdot ", "∗": "*", "√": r"\sqrt ", "π": r"\pi ",
    "Σ": r"\Sigma ", "σ": r"\sigma ", "μ": r"\mu ", "γ": r"\gamma ", "β": r"\beta ", "ε": r"\epsilon ",
    "ϵ": r"\epsilon ", "ℓ": r"\ell ", "ᵀ": "^T", "⊤": r"^\top ", "⁻¹": "^{-1}", "²": "^2", "½": r"\frac12 ",
    "₀": "_0", "₁": "_1", "₂": "_2", "₃": "_3", "\u00a0": " ", "\u2009": " ", "\u200b": "", "≤": r"\le ",
    "⩽": r"\le ", "∑": r"\sum ", "÷": r"\div ",
}


def normalise(text: str) -> str:
    """Map pasted Unicode math to its ASCII/LaTeX spelling; refuse over-long input."""
    if len(text) > MAX_LENGTH:
        raise StudentInputError(f"the answer is {len(text)} characters long; the limit is {MAX_LENGTH}")
    text = text.strip()
    if text.startswith("$") or text.startswith(r"\(") or text.startswith(r"\["):
        text = text.strip("$")
        for a, b in ((r"\(", r"\)"), (r"\[", r"\]")):
            if text.startswith(a) and text.endswith(b):
                text = text[2:-2]
    for a, b in _UNICODE.items():
        if a in text:
            text = text.replace(a, b)
    if not text.strip():
        raise StudentInputError("the answer is empty")
    return text


def parse_answer(problem: Problem, text: str) -> sp.Basic:
    """The sympy expression of a student's answer, built from its parse tree; StudentInputError if unreadable."""
    return parse_formula(text, problem.table)


def parse_formula(text: str, table: SymbolTable) -> sp.Basic:
    """The sympy expression of `text` with the names of `table` (a problem's, or one made for a test)."""
    text = normalise(text)
    try:
        return build(parse_tree(text, vocab=table.vocabulary), table, text)
    except StudentInputError:
        # Read it again with source positions, so the message can quote the student's own text.
        return build(parse_tree(text, positions=True, vocab=table.vocabulary), table, text)
