"""How the page shows a problem: its statement and symbols as MathML (MathML Core, rendered natively by browsers)."""

from __future__ import annotations


def _symbol_markup(latex: str) -> str:
    from checkers.reporting.statements import math_markup

    try:
        return math_markup(latex, display=False)
    except ValueError:  # latex2mathml cannot read this spelling: the page shows the source instead
        return ""


def describe_problem(problem) -> dict:
    """The page's and /api/problems' view of one problem (statement from the declaration, or the claim's)."""
    from checkers.reporting.statements import render_statement

    source = problem.statement or problem.claim.statement
    statement = render_statement(source)
    return {
        "id": problem.id,
        "title": problem.title,
        "source": problem.source,
        "statement": source,
        "statement_html": str(statement.html),
        "symbols": [{"latex": s.latex, "mathml": _symbol_markup(s.latex)} for s in problem.symbols if s.listed],
        "dims": {k: list(v) for k, v in problem.dim_ranges.items()},
        "exact": problem.exact,
    }
