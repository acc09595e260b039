"""What the templates show: checked derivations and their results turned into plain, pre-formatted records.

Templates never compute: every number is formatted, every status worded and every colour class
chosen here. Formulas stay sympy objects (a `Formula` is a sequence of expressions and relation
signs) so that each output format prints them from the very objects that were checked.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import sympy as sp

from checkers.model import Claim, Derivation
from checkers.reporting.graded import GradedSection
from checkers.reporting.problem_sets import Placement, ProblemSet
from checkers.reporting.statements import RenderedStatement, render_statement
from checkers.results import ClaimResult, DerivationResult, NumericResult, RunResult

__all__ = ["ClaimView", "FigureView", "Formula", "ProblemView", "RunView", "SetView", "claim_view", "problem_view",
           "run_view", "set_view"]

RELATIONS = ("=", "<=", ">=", "≈", ":=")


@dataclass(frozen=True)
class Formula:
    """Sympy expressions interleaved with relation signs, e.g. (lhs, "=", rhs) or ("=", step)."""

    parts: tuple


@dataclass(frozen=True)
class NumericRow:
    device: str
    dtype: str
    instances: str
    worst_rel: str
    worst_abs: str
    tolerance: str
    status: str  # "passed", "FAILED", "skipped"
    css: str  # "ok", "fail", "warn"
    note: str = ""


@dataclass(frozen=True)
class StepView:
    number: int
    formula: Formula
    justification: str
    symbolic: str
    numeric: str
    css: str


@dataclass(frozen=True)
class ReferenceView:
    id: str
    description: str
    rows: tuple[NumericRow, ...]
    status: str
    css: str


@dataclass(frozen=True)
class MutantView:
    id: str
    description: str
    status: str  # "caught" or "SURVIVED"
    evidence: str
    css: str


@dataclass(frozen=True)
class VariableView:
    symbol: Formula
    description: str


@dataclass(frozen=True)
class ClaimView:
    id: str
    statement: str
    formula: Formula | None
    numeric_function: str  # the docstring of a claim's own numeric function, if it has one
    definitions: tuple[Formula, ...]
    assumptions: tuple[str, ...]
    variables: tuple[VariableView, ...]
    dims: str
    steps: tuple[StepView, ...]
    symbolic: str
    symbolic_detail: str
    symbolic_css: str
    numeric: tuple[NumericRow, ...]
    references: tuple[ReferenceView, ...]
    mutants: tuple[MutantView, ...]
    mutants_caught: str
    status: str  # "passed" / "FAILED"
    css: str
    failures: tuple[tuple[str, ...], ...]  # each failure report as its lines


@dataclass(frozen=True)
class FigureView:
    id: str
    caption: str
    png_base64: str  # the PNG for the HTML, base64; empty when drawing failed
    pdf_name: str  # file name of the PDF for LaTeX, relative to the document; empty when drawing failed
    error: str


@dataclass(frozen=True)
class RunView:
    """The run every result of a document comes from: versions, seed, devices, date."""

    line: str
    date: str
    seed: int
    devices: str
    torch: str
    sympy: str
    python: str
    reused: bool


@dataclass(frozen=True)
class ProblemView:
    anchor: str
    label: str
    title: str
    source: str
    statement: RenderedStatement
    figures: tuple[FigureView, ...]
    claims: tuple[ClaimView, ...]
    status: str  # "passed" / "FAILED"
    css: str
    summary: str  # the one-line status shown in the index and under the heading
    checked: str  # when this problem's result was checked, and whether it was reused


@dataclass(frozen=True)
class SetView:
    id: str
    title: str
    description: str
    problems: tuple[ProblemView, ...]
    status: str
    css: str
    summary: str
    run: RunView
    graded: GradedSection | None = None  # the submitted answers, graded (sets with `ProblemSet.answers`)


def _sci(x: float) -> str:
    return f"{x:.1e}" if x else "0"


def _numeric_row(r: NumericResult, claim: Claim | None = None) -> NumericRow:
    tol = f"rtol {_sci(r.rtol)}, atol {_sci(r.atol)}"
    if claim is not None and claim.relation == "≈":
        tol = f"{claim.z:g} standard errors + {tol}"
    if r.skipped:
        return NumericRow(r.device, r.dtype, "-", "-", "-", tol, "skipped", "warn", r.skipped)
    return NumericRow(r.device, r.dtype, str(r.instances), _sci(r.worst_rel_error), _sci(r.worst_abs_error), tol,
                      "passed" if r.passed else "FAILED", "ok" if r.passed else "fail")


def _symbolic_text(status: str, scope: str) -> str:
    return f"{status} ({scope})" if status == "proved" and scope else status


def _css(status: str) -> str:
    return {"proved": "ok", "failed": "fail"}.get(status, "warn")


def _dims(claim: Claim) -> str:
    return ", ".join(f"{name} = {lo}..{hi}" if lo != hi else f"{name} = {lo}" for name, (lo, hi) in
                     sorted(claim.dims.items()))


def _doc(fn) -> str:
    """The first paragraph of a numeric function's docstring; its name when undocumented, nothing for a lambda."""
    doc = (getattr(fn, "__doc__", None) or "").strip()
    if doc:
        return " ".join(doc.split("\n\n")[0].split())
    name = getattr(fn, "__name__", "")
    return "" if name in ("", "<lambda>") else name


def claim_view(claim: Claim, result: ClaimResult) -> ClaimView:
    formula = Formula((claim.lhs, claim.relation, claim.rhs)) if claim.lhs is not None and claim.rhs is not None \
        else None
    steps = []
    for step, sr in zip(claim.steps, result.steps):
        if sr.numeric is None:
            numeric = "not checked numerically (no torch form)"
        else:
            numeric = (f"float64: worst relative error {_sci(sr.numeric.worst_rel_error)} over "
                       f"{sr.numeric.instances} instances" + ("" if sr.numeric.passed else " — FAILED"))
        detail = f": {sr.symbolic.detail}" if sr.symbolic.status != "proved" and sr.symbolic.detail else ""
        steps.append(StepView(sr.index, Formula((step.relation, step.expr)), step.justification,
                              _symbolic_text(sr.symbolic.status, sr.symbolic.scope) + detail, numeric,
                              "ok" if sr.passed and sr.symbolic.status == "proved" else
                              ("fail" if not sr.passed else "warn")))
    references = []
    for ref in result.references:
        references.append(ReferenceView(ref.id, ref.description, tuple(_numeric_row(r) for r in ref.results),
                                        "passed" if ref.passed else "FAILED", "ok" if ref.passed else "fail"))
    mutants = tuple(MutantView(m.id, m.description, "caught" if m.caught else "SURVIVED", m.evidence,
                               "ok" if m.caught else "fail") for m in result.mutants)
    caught = sum(m.caught for m in result.mutants)
    symbols = {v.name: v for v in claim.variables}
    variables = tuple(VariableView(Formula((sp.Symbol(name),)), v.kind.description) for name, v in symbols.items())
    return ClaimView(
        id=claim.id, statement=claim.statement, formula=formula,
        numeric_function=_doc(claim.numeric) if claim.numeric is not None else "",
        definitions=tuple(Formula((symbol, ":=", definition)) for symbol, definition in claim.definitions.items()),
        assumptions=tuple(claim.assumptions), variables=variables, dims=_dims(claim), steps=tuple(steps),
        symbolic=_symbolic_text(result.symbolic.status, result.symbolic.scope),
        symbolic_detail=result.symbolic.detail, symbolic_css=_css(result.symbolic.status),
        numeric=tuple(_numeric_row(r, claim) for r in result.numeric), references=tuple(references),
        mutants=mutants, mutants_caught=f"{caught}/{len(result.mutants)}",
        status="passed" if result.passed else "FAILED", css="ok" if result.passed else "fail",
        failures=tuple(tuple(f.splitlines()) for f in result.failures))


def _summary(claims: list[ClaimResult], figures_ok: bool = True) -> str:
    """One line: claims passed, symbolic outcome, numeric coverage, references, mutants."""
    n = len(claims)
    failed = [c.id for c in claims if not c.passed]
    head = (f"{n - len(failed)}/{n} claims passed" + (f" (failed: {', '.join(failed)})" if failed else "")
            + ("" if figures_ok else "; a figure could not be drawn"))
    statuses = [c.symbolic.status for c in claims]
    symbolic = ", ".join(f"{statuses.count(s)} {s}" for s in ("proved", "not attempted", "failed") if s in statuses)
    steps = [s for c in claims for s in c.steps]
    if steps:
        symbolic += f"; steps {sum(s.symbolic.status == 'proved' for s in steps)}/{len(steps)} proved"
    ran = sorted({f"{r.device} {r.dtype}" for c in claims for r in c.numeric if not r.skipped})
    refs = [r for c in claims for r in c.references]
    mutants = [m for c in claims for m in c.mutants]
    parts = [head, f"symbolic: {symbolic or 'none'}", f"numeric: {', '.join(ran) or 'none'}"]
    if refs:
        parts.append(f"references {sum(r.passed for r in refs)}/{len(refs)}")
    parts.append(f"mutants {sum(m.caught for m in mutants)}/{len(mutants)} caught")
    return " · ".join(parts)


def problem_view(placement: Placement, result: DerivationResult, figures: tuple[FigureView, ...],
                 checked: tuple[str, bool]) -> ProblemView:
    derivation: Derivation = placement.derivation
    by_id = {c.id: c for c in derivation.claims}
    claims = tuple(claim_view(by_id[r.id], r) for r in result.claims)
    figures_ok = all(not f.error for f in figures)
    passed = result.passed and figures_ok
    return ProblemView(
        anchor=derivation.id, label=placement.label, title=derivation.title, source=derivation.source,
        statement=render_statement(derivation.statement), figures=figures, claims=claims,
        status="passed" if passed else "FAILED", css="ok" if passed else "fail",
        summary=_summary(list(result.claims), figures_ok),
        checked=f"checked {_date(checked[0])}")


def _date(started: str) -> str:
    try:
        return datetime.datetime.fromisoformat(started).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return started


def run_view(run: RunResult, checked: list[tuple[str, bool]]) -> RunView:
    """Versions, seed, devices and when the results shown were checked (`checked`: (started, reused) pairs).

    A reused result is shown with the date of the run that produced it; whether it was reused is said
    on the command line only, so that an unchanged document stays byte-for-byte the same.
    """
    dates = sorted({_date(when) for when, _ in checked if when})
    date = dates[0] if len(dates) == 1 else (f"{dates[0]} to {dates[-1]}" if dates else "?")
    n_reused = sum(reused for _, reused in checked)
    v = run.versions
    line = (f"Checked {date} with torch {v.get('torch', '?')}, sympy {v.get('sympy', '?')}, Python "
            f"{v.get('python', '?')}; seed {run.seed}; devices {', '.join(run.devices)}")
    return RunView(line, date, run.seed, ", ".join(run.devices), v.get("torch", "?"), v.get("sympy", "?"),
                   v.get("python", "?"), bool(n_reused))


def set_view(problem_set: ProblemSet, problems: list[ProblemView], run: RunView,
             graded: GradedSection | None = None) -> SetView:
    passed = all(p.status == "passed" for p in problems)
    n_failed = sum(p.status != "passed" for p in problems)
    summary = (f"all {len(problems)} problems verified" if passed else
               f"{n_failed} of {len(problems)} problems FAILED a check")
    return SetView(problem_set.id, problem_set.title, problem_set.description, tuple(problems),
                   "passed" if passed else "FAILED", "ok" if passed else "fail", summary, run, graded)
