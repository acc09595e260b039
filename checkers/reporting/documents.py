"""Whole documents for the reports: answers, parts, derivations, problems, problem sets and the run they come from.

Each function builds one record of `records` from the model and the results, with the claims'
evidence from `evidence`; `build` renders the `SetView`s it returns.
"""

from __future__ import annotations

import datetime
import inspect
import textwrap

from markupsafe import Markup, escape

from checkers.model import Answer, Claim, Derivation
from checkers.reporting.display import Named, displayed
from checkers.reporting.evidence import claim_view, status_name, verified_line
from checkers.reporting.graded import GradedSection
from checkers.reporting.latex_escape import escape_latex
from checkers.reporting.problem_sets import Placement, ProblemSet
from checkers.reporting.records import (AnswerView, ClaimView, DerivationView, FigureView, Formula, PartView,
                                        ProblemView, RunView, SetView, SymbolicOutcome)
from checkers.reporting.statements import RenderedStatement, render_statement
from checkers.results import ClaimResult, DerivationResult, RunResult

__all__ = ["answer_view", "derivation_view", "group_problems", "part_views", "plain_text", "run_view", "set_view"]


def _source(fn) -> str:
    try:
        return textwrap.dedent(inspect.getsource(fn)).rstrip() + "\n"
    except (OSError, TypeError):
        return f"# source of {getattr(fn, '__qualname__', fn)!s} is not available\n"


def answer_view(answer: Answer, where: str = "answer") -> AnswerView:
    scope = render_statement(answer.scope) if answer.scope else None
    if answer.formula is not None:
        formula = displayed(answer.display, answer.formula, where)
        lhs = displayed(answer.lhs_display, answer.lhs, where) if answer.lhs is not None else None
        parts = (lhs, answer.relation, formula) if lhs is not None else (formula,)
        if answer.named:
            parts = (Named(answer.named), "=") + parts
        return AnswerView("formula", formula=Formula(parts), scope=scope,
                          text=render_statement(answer.text) if answer.text else None)
    if answer.code is not None:
        # An answer may give the procedure in words and the code that implements it: both are shown.
        pieces = answer.code if isinstance(answer.code, tuple) else (answer.code,)
        return AnswerView("code", code="\n\n".join(_source(piece).rstrip() for piece in pieces) + "\n",
                          code_name=", ".join(getattr(piece, "__name__", "") for piece in pieces),
                          algorithm=tuple(render_statement(s) for s in answer.algorithm), scope=scope,
                          text=render_statement(answer.text) if answer.text else None)
    if answer.algorithm:
        return AnswerView("algorithm", algorithm=tuple(render_statement(s) for s in answer.algorithm), scope=scope,
                          text=render_statement(answer.text) if answer.text else None)
    return AnswerView("text", text=render_statement(answer.text), scope=scope)


def _implicit_answer(claim: Claim) -> AnswerView:
    """The answer of a part made from one claim: its formula, or its statement when it has none."""
    if claim.lhs is not None and claim.rhs is not None:
        relation = "=" if claim.relation == "≈" else claim.relation
        return AnswerView("formula", formula=Formula((claim.lhs, relation, claim.rhs)))
    return AnswerView("text", text=plain_text(claim.statement))


def plain_text(text: str) -> RenderedStatement:
    """Plain prose (no LaTeX), escaped for each format, as a statement the templates print."""
    return RenderedStatement(escape_latex(text), Markup(f"<p>{escape(text)}</p>"))


def _part_view(anchor: str, label: str, heading: str, question: RenderedStatement | None, answer: AnswerView | None,
               claims: list[Claim], results: list[ClaimResult], claim_views: dict[str, ClaimView],
               implicit: bool = False) -> PartView:
    verified, css = verified_line(claims, results) if claims else ("No check is attached to this answer", "warn")
    passed = all(r.passed for r in results)
    return PartView(anchor, label, heading, question, answer, tuple(claim_views[c.id] for c in claims),
                    "passed" if passed else "FAILED", css, verified, implicit)


def part_views(derivation: Derivation, result: DerivationResult, claim_views: dict[str, ClaimView],
               letter: str) -> tuple[PartView, ...]:
    by_id = {c.id: c for c in derivation.claims}
    results = {r.id: r for r in result.claims}
    out = []
    if derivation.parts:
        used: set[str] = set()
        for i, part in enumerate(derivation.parts, start=1):
            claims = [by_id[c] for c in part.claims]
            used.update(part.claims)
            heading = part.label or letter
            # A problem without sub-questions restates its statement as the question: print it once.
            question = part.question if part.question and part.question.strip() != derivation.statement.strip() \
                else ""
            out.append(_part_view(f"{derivation.id}--part{i}", part.label or letter, heading,
                                  render_statement(question) if question else None,
                                  answer_view(part.answer, f"{derivation.id} {part.label or letter}"), claims,
                                  [results[c.id] for c in claims], claim_views))
        rest = [c for c in derivation.claims if c.id not in used]
        if rest:
            out.append(_part_view(f"{derivation.id}--lemmas", "", "Supporting lemmas", None, None, rest,
                                  [results[c.id] for c in rest], claim_views))
        return tuple(out)
    for claim in derivation.claims:  # no parts declared yet: one implicit part per claim
        out.append(_part_view(f"{derivation.id}--{claim.id}", letter, claim.statement,
                              None, _implicit_answer(claim), [claim], [results[claim.id]], claim_views, True))
    return tuple(out)


# -- problems, sets, runs ----------------------------------------------------------------------------------------

def _summary(claims: list[ClaimResult], figures_ok: bool = True) -> str:
    """One line: claims passed, symbolic outcome, numeric coverage, references, mutants."""
    n = len(claims)
    failed = [c.id for c in claims if not c.passed]
    head = (f"{n - len(failed)} of {n} claims passed" + (f" (failed: {', '.join(failed)})" if failed else "")
            + ("" if figures_ok else "; a figure could not be drawn"))
    statuses = [status_name(c.symbolic.status) for c in claims]
    symbolic = ", ".join(f"{statuses.count(s)} {s}" for s in ("proved", "supported by lemmas", "not attempted",
                                                              "failed") if s in statuses)
    refs = [r for c in claims for r in c.references]
    mutants = [m for c in claims for m in c.mutants]
    parts = [head, f"symbolic: {symbolic or 'none'}"]
    if refs:
        parts.append(f"references {sum(r.passed for r in refs)} of {len(refs)}")
    parts.append(f"wrong variants rejected {sum(m.caught for m in mutants)} of {len(mutants)}")
    return " · ".join(parts)


def derivation_view(placement: Placement, result: DerivationResult, figures: tuple[FigureView, ...],
                    checked: tuple[str, bool]) -> DerivationView:
    derivation: Derivation = placement.derivation
    by_id = {c.id: c for c in derivation.claims}
    claims = tuple(claim_view(by_id[r.id], r, f"{derivation.id}--{r.id}") for r in result.claims)
    views = {c.id: c for c in claims}
    figures_ok = all(not f.error for f in figures)
    passed = result.passed and figures_ok
    return DerivationView(
        id=derivation.id, title=derivation.title, source=derivation.source,
        statement=render_statement(derivation.statement), figures=figures,
        parts=part_views(derivation, result, views, placement.letter), claims=claims,
        status="passed" if passed else "FAILED", css="ok" if passed else "fail",
        summary=_summary(list(result.claims), figures_ok), checked=f"checked {_date(checked[0])}")


def group_problems(placements: list[Placement], derivations: list[DerivationView]) -> tuple[ProblemView, ...]:
    """One ProblemView per problem number, in the set's order; derivations of one problem share it."""
    groups: dict[str, list[tuple[Placement, DerivationView]]] = {}
    for placement, view in zip(placements, derivations):
        groups.setdefault(placement.number, []).append((placement, view))
    out = []
    for number, members in groups.items():
        views = tuple(v for _, v in members)
        titles = list(dict.fromkeys(v.title for v in views))
        passed = all(v.status == "passed" for v in views)
        label = f"Problem {number}" if number.isdigit() else members[0][0].label
        anchor = views[0].id if len(views) == 1 else f"problem-{number}"
        n_claims = sum(len(v.claims) for v in views)
        n_failed = sum(c.status != "passed" for v in views for c in v.claims)
        n_parts = sum(len(v.parts) for v in views)
        summary = (f"{n_parts} answer{'s' if n_parts != 1 else ''}, {n_claims} checked claim"
                   f"{'s' if n_claims != 1 else ''}" + (f", {n_failed} FAILED" if n_failed else ", all verified"))
        out.append(ProblemView(anchor, label, "; ".join(titles), views, "passed" if passed else "FAILED",
                               "ok" if passed else "fail", summary, _how_checked(views)))
    return tuple(out)


def _how_checked(views: tuple[DerivationView, ...]) -> str:
    """One sentence for the answer key: how this problem's answers were checked, without the evidence's vocabulary."""
    claims = [c for v in views for c in v.claims]
    if any(c.status != "passed" for c in claims):
        return "Some check of this problem failed: see the full solution before using these answers."
    outcomes = [c.outcome for c in claims]
    general = outcomes.count(SymbolicOutcome.GENERAL)
    some = general + outcomes.count(SymbolicOutcome.DIMENSIONS)
    if claims and general == len(claims):
        how = "Every statement here is proved symbolically in general and also tested on random numerical instances."
    elif some:
        how = ("Checked by symbolic proofs (some for small dimensions) and by numerical tests on random instances "
               "against independent implementations.")
    else:
        how = "Checked numerically on random instances against independent implementations."
    return how + " The derivations are in the full solution."


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
    """The document's headline: a graded submission's status is its answers' verdicts, in red when any is wrong."""
    passed = all(p.status == "passed" for p in problems)
    n_failed = sum(p.status != "passed" for p in problems)
    checks = (("the problem is verified" if len(problems) == 1 else f"all {len(problems)} problems verified")
              if passed else
              f"{n_failed} of {len(problems)} problems FAILED a check")
    if graded is not None:
        wrong = graded.counts.get("incorrect", 0)
        unreadable = graded.counts.get("invalid", 0)
        total = len(graded.answers)
        if wrong or unreadable:
            status = (f"{wrong} of {total} answers wrong" if wrong else "") + \
                     (", " if wrong and unreadable else "") + (f"{unreadable} unreadable" if unreadable else "")
            css = "fail" if wrong else "warn"
        else:
            status, css = f"all {total} answers correct", "ok"
        if not passed:
            css = "fail"
        summary = f"{graded.summary}; {graded.not_graded_summary}" if graded.not_graded_summary else graded.summary
        return SetView(problem_set.id, problem_set.heading, problem_set.description, tuple(problems), status, css,
                       summary, run, graded, f"Reference solutions: {checks}")
    return SetView(problem_set.id, problem_set.heading, problem_set.description, tuple(problems),
                   "passed" if passed else "FAILED", "ok" if passed else "fail", checks, run, graded)
