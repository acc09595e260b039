"""One claim's evidence, worded for the reports: symbolic outcome, numeric rows and their criterion, lemmas, verdict.

`claim_view` turns a checked claim and its `ClaimResult` into the `ClaimView` record the appendix
prints; `verified_line` is the one-line summary under an answer. The words come from the result's
fields (statuses, scopes, counts, failure records, the lemma tuple); nothing the engine wrote is read
back. Two rewrites only change how an author's own notation is printed: `readable` (a kind's
description, R^d as ℝᵈ) and `said_once` (one lemma stated for several cases, said once).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import sympy as sp

from checkers.model import Claim
from checkers.reporting.display import displayed
from checkers.reporting.latex_math import upright_word
from checkers.reporting.records import (ClaimView, Formula, MutantView, NumericRow, ReferenceView, StepView,
                                        SymbolicOutcome, VariableView)
from checkers.reporting.statements import render_statement
from checkers.results import ClaimResult, NumericResult
from checkers.symbolic import LEMMAS_LEAD, SymbolicResult, SymbolicStatus

__all__ = ["LEMMAS_LEAD", "NOTE_COMBINED", "NOTE_NEAR_ZERO", "claim_view", "criterion_text", "lemma_lines",
           "numeric_row", "readable", "said_once", "status_name", "symbolic_outcome", "symbolic_text", "verified_line"]

HALF_PRECISION = ("float16", "bfloat16")


def status_name(status: object) -> str:
    """A symbolic status as its plain words, whether it is a string or an enum member."""
    value = getattr(status, "value", status)
    return str(value).strip().lower().replace("_", " ")


def _sci(x: float) -> str:
    return f"{x:.1e}" if x else "0"


def _count(n: int) -> str:
    return f"{n:,}"


def _is_formula(claim: Claim) -> bool:
    return claim.numeric is None and claim.lhs is not None and claim.rhs is not None


def criterion_text(claim: Claim | None, dtype: str) -> str:
    """The test a numeric row actually applied (see checkers.verify and checkers.tolerances)."""
    modelled = claim is not None and any(t.rounding is not None for d, t in claim.tolerances.items()
                                         if str(d).removeprefix("torch.") == dtype)  # Tolerance(rounding=...)
    bound = " + rounding bound" if claim is not None and (_is_formula(claim) or modelled) and dtype != "float64" else ""
    relation = claim.relation if claim is not None else "="
    if relation == "≈":
        z = f"{claim.z:g}" if claim is not None else "5"
        return f"|estimate − value| ≤ {z}·std.err. + atol + rtol·|value|"
    if relation == "<=":
        return f"lhs − rhs ≤ atol + rtol·|rhs|{bound}"
    if relation == ">=":
        return f"rhs − lhs ≤ atol + rtol·|lhs|{bound}"
    return f"|lhs − rhs| ≤ atol + rtol·|rhs|{bound}"


def numeric_row(r: NumericResult, claim: Claim | None = None, criterion_claim: Claim | None = None,
                 monte_carlo: bool = False) -> NumericRow:
    """One row; `claim` gives the relation (and whether the rounding bound applies); `monte_carlo`: the row
    compares with a Monte Carlo estimate (a reference that returns one), judged within z standard errors."""
    crit_claim = criterion_claim if criterion_claim is not None else claim
    criterion = criterion_text(crit_claim, r.dtype)
    if monte_carlo:
        z = f"{crit_claim.z:g}" if crit_claim is not None else "5"
        criterion = f"|estimate − value| ≤ {z}·std.err. + atol + rtol·|value|"
    tol = f"rtol {_sci(r.rtol)}, atol {_sci(r.atol)}"
    if r.skipped:
        return NumericRow(r.device, r.dtype, "–", "–", "–", criterion, tol, "skipped", "warn", r.skipped)
    estimate = monte_carlo or (crit_claim is not None and crit_claim.relation == "≈")
    meaningful = (not estimate) and (r.worst_rel_error <= r.rtol or not r.passed)
    if meaningful:
        rel = _sci(r.worst_rel_error)
    elif estimate:
        rel = "–"
    elif r.worst_abs_error <= r.atol:
        rel = "–†"  # the worst relative error divides by a reference value near 0
    else:
        rel = "–‡"  # within the combined allowance (rounding bound or atol) where |rhs| is small
    return NumericRow(r.device, r.dtype, _count(r.instances), _sci(r.worst_abs_error), rel, criterion, tol,
                      "passed" if r.passed else "FAILED", "ok" if r.passed else "fail")


NOTE_NEAR_ZERO = ("–† relative error not shown: the worst instances have reference values near 0, where "
                  "|lhs − rhs|/|rhs| does not measure accuracy; they are within atol.")
NOTE_COMBINED = ("–‡ relative error not shown: the worst instances are small in magnitude and within the "
                 "criterion's absolute part (atol, and for formulas the first-order rounding bound "
                 "u·Σ|∂f/∂vᵢ|·|vᵢ| of that very instance).")


def symbolic_text(status: object, scope: str, detail: str = "") -> str:
    """A symbolic outcome in words, with the scope of a proof ("proved symbolically for n ∈ {1, 2, 3}")."""
    name = status_name(status)
    if name == "proved":
        if not scope or scope == "general":
            return "proved symbolically in general"
        return f"proved symbolically for {scope}"
    if name == "supported by lemmas":
        return f"supported by lemmas: {detail}" if detail else "supported by lemmas"
    if name == "not attempted":
        return "not proved symbolically" + (f" ({detail})" if detail else "")
    if name == "failed":
        return "symbolic check FAILED"
    return name


def said_once(lemmas: Sequence[str]) -> tuple[str, ...]:
    """Lemma descriptions once each, in order; one lemma stated for several cases ("L for n = 1", "L for n = 2", as
    a proof states it at each size it was proved for) is said once: "L for each of: n = 1 | n = 2"."""
    groups: dict[tuple[str, bool], list[str]] = {}
    for lemma in dict.fromkeys(lemmas):
        head, sep, case = lemma.rpartition(" for ")
        if sep and head and case:
            groups.setdefault((head, True), []).append(case)
        else:
            groups.setdefault((lemma, False), [])
    out = []
    for (head, has_cases), cases in groups.items():
        if not has_cases:
            out.append(head)
        else:
            out.append(f"{head} for each of: {' | '.join(cases)}" if len(cases) > 1 else f"{head} for {cases[0]}")
    return tuple(out)


def lemma_lines(symbolic: SymbolicResult) -> tuple[str, ...]:
    """What a claim "supported by lemmas" rests on, each lemma said once, opened by what they do not establish."""
    if symbolic.status != SymbolicStatus.SUPPORTED or not symbolic.lemmas:
        return ()
    first, *rest = said_once(symbolic.lemmas)
    return (f"{LEMMAS_LEAD}: {first}", *rest)


def _step_symbolic_text(symbolic: SymbolicResult) -> str:
    """A step's symbolic outcome in one line: with its lemmas, the reason it was not attempted, or why it failed."""
    if symbolic.status == SymbolicStatus.SUPPORTED:
        return symbolic_text(symbolic.status, symbolic.scope, "; ".join(lemma_lines(symbolic)))
    if symbolic.status == SymbolicStatus.NOT_ATTEMPTED:
        return symbolic_text(symbolic.status, symbolic.scope, symbolic.detail)
    text = symbolic_text(symbolic.status, symbolic.scope)
    return f"{text}: {symbolic.detail}" if symbolic.status == SymbolicStatus.FAILED and symbolic.detail else text


def symbolic_outcome(symbolic: SymbolicResult) -> SymbolicOutcome:
    """The outcome a summary counts: a proof in general or for a stated scope, lemmas, numbers only, or a failure."""
    if symbolic.status == SymbolicStatus.PROVED:
        return SymbolicOutcome.GENERAL if symbolic.scope in ("", "general") else SymbolicOutcome.DIMENSIONS
    return {SymbolicStatus.SUPPORTED: SymbolicOutcome.LEMMAS, SymbolicStatus.FAILED: SymbolicOutcome.FAILED,
            SymbolicStatus.NOT_ATTEMPTED: SymbolicOutcome.NUMERIC_ONLY}[symbolic.status]


def _css(status: object) -> str:
    return {"proved": "ok", "supported by lemmas": "ok", "failed": "fail"}.get(status_name(status), "warn")


_SCRIPT = re.compile(r"(\bR\^|\b[A-Za-z]_|\^)(\{[^{}]*\}|[A-Za-z0-9]+)")
_TEXT_SPECIALS = re.compile(r"([{}$&#%_\\])")


def _words(piece: str) -> str:
    return re.sub(r"\b(\w+)x(\w+) matrix", r"\1×\2 matrix", piece).replace("<=", "≤").replace(">=", "≥")


def _text(piece: str) -> str:
    return _TEXT_SPECIALS.sub(lambda m: r"\textbackslash{}" if m.group(1) == "\\" else "\\" + m.group(1), _words(piece))


def readable(description: str) -> str:
    """A kind's plain-text description as a reader expects it: R^d as ℝᵈ (math), n_{L-1} as a subscript, nxn as n×n.

    With scripts, the result is LaTeX (other characters escaped) for the statement converter (`prose`),
    so that both formats typeset them as math; without, it is plain text.
    """
    if not _SCRIPT.search(description):
        return _words(description)
    out, last = [], 0
    for match in _SCRIPT.finditer(description):
        out.append(_text(description[last:match.start()]))
        lead, script = match.group(1), match.group(2).strip("{}")
        if lead == "R^":
            out.append(f"$\\mathbb{{R}}^{{{script}}}$")
        elif lead.endswith("_"):
            out.append(f"${lead[0]}_{{{upright_word(script)}}}$")
        else:
            out.append(f"${{}}^{{{script}}}$")
        last = match.end()
    out.append(_text(description[last:]))
    return "".join(out)


def _dims(claim: Claim) -> str:
    return ", ".join(f"{name} = {lo}..{hi}" if lo != hi else f"{name} = {lo}" for name, (lo, hi) in
                     sorted(claim.dims.items()))


def _doc(fn) -> str:
    """The first paragraph of a numeric function's docstring; nothing for an undocumented function."""
    doc = (getattr(fn, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else ""


def _claim_relation(claim: Claim, result: ClaimResult) -> str:
    """The relation printed between the sides: '=' for an exact identity even when checked by Monte Carlo."""
    return "=" if claim.relation == "≈" else claim.relation


def verified_line(claims: list[Claim], results: list[ClaimResult]) -> tuple[str, str]:
    """("Verified: ..." or "FAILED: ...", css) for the claims of one part."""
    failed = [r for r in results if not r.passed]
    if failed:
        reasons = [f"{r.id}: {r.failure_records[0].lines()[0] if r.failure_records else 'failed'}" for r in failed]
        return "FAILED: " + "; ".join(reasons), "fail"
    texts = [symbolic_text(r.symbolic.status, r.symbolic.scope) for r in results]
    symbolic = []
    if len(set(texts)) == 1:  # the lemmas themselves are listed in the evidence: one line stays one line
        symbolic.append(texts[0])
    else:  # several claims with different outcomes: how many of each, never "proved; not proved" side by side
        counts = Counter(symbolic_outcome(r.symbolic) for r in results)
        symbolic.append(f"of {len(texts)} claims, " + ", ".join(f"{counts[o]} {o}" for o in SymbolicOutcome
                                                                if counts[o]))
    steps = [s for r in results for s in r.steps]
    if steps:
        proved = sum(status_name(s.symbolic.status) == "proved" for s in steps)
        symbolic.append(f"{proved} of {len(steps)} steps proved")
    by_claim = []
    dtypes: list[str] = []
    devices: list[str] = []
    monte_carlo = False
    for claim, r in zip(claims, results):
        ran = [n for n in r.numeric if not n.skipped]
        if not ran:
            continue
        by_claim.append(max(n.instances for n in ran))
        for n in ran:
            if n.dtype in HALF_PRECISION and claim.relation == "=" and status_name(r.symbolic.status) == "proved":
                continue  # an exact identity: half precision only measures rounding (the document says so once)
            if n.dtype not in dtypes:
                dtypes.append(n.dtype)
            if n.device not in devices:
                devices.append(n.device)
        monte_carlo |= claim.relation == "≈"
    parts = ["; ".join(symbolic)] if symbolic else []
    if by_claim:
        how = "by Monte Carlo within " + f"{claims[0].z:g} standard errors " if monte_carlo else ""
        parts.append(f"numerically {how}on {_count(sum(by_claim))} instances ({'/'.join(devices)} "
                     f"{'/'.join(dtypes)})")
    refs = [ref for r in results for ref in r.references]
    if refs:
        parts.append(f"{len(refs)} independent reference{'s' if len(refs) != 1 else ''}")
    mutants = [m for r in results for m in r.mutants]
    parts.append(f"{sum(m.caught for m in mutants)} of {len(mutants)} wrong variants rejected")
    return "Verified: " + "; ".join(parts), "ok"


def claim_view(claim: Claim, result: ClaimResult, anchor: str = "") -> ClaimView:
    formula = (Formula((claim.lhs, _claim_relation(claim, result), claim.rhs)) if claim.lhs is not None
               and claim.rhs is not None else None)
    steps = []
    for step, sr in zip(claim.steps, result.steps):
        if sr.numeric is None:
            numeric = "not checked numerically (no torch form)"
        else:
            n = sr.numeric
            rel = (f"worst relative error {_sci(n.worst_rel_error)}" if n.worst_rel_error <= n.rtol or not n.passed
                   else f"worst absolute error {_sci(n.worst_abs_error)}")
            numeric = (f"float64, {rel} over {_count(n.instances)} instances"
                       + ("" if n.passed else " — FAILED"))
        name = status_name(sr.symbolic.status)
        shown = displayed(step.display, step.expr, f"claim {claim.id!r}, step {sr.index}")
        steps.append(StepView(sr.index, Formula((step.relation, shown)), step.justification,
                              _step_symbolic_text(sr.symbolic), numeric,
                              "ok" if sr.passed and name == "proved" else ("fail" if not sr.passed else "warn")))
    references = []
    for ref in result.references:
        references.append(ReferenceView(ref.id, ref.description,
                                        tuple(numeric_row(r, claim, monte_carlo=ref.monte_carlo) for r in ref.results),
                                        ("illustration" if ref.illustration else "passed") if ref.passed else "FAILED",
                                        "ok" if ref.passed else "fail"))
    mutants = tuple(MutantView(m.id, m.description, "caught" if m.caught else "SURVIVED", m.evidence,
                               "ok" if m.caught else "fail") for m in result.mutants)
    caught = sum(m.caught for m in result.mutants)
    symbols = {v.name: v for v in claim.variables}
    variables = tuple(VariableView(Formula((sp.Symbol(name),)), readable(v.kind.description))
                      for name, v in symbols.items())
    rows = tuple(numeric_row(r, claim) for r in result.numeric)
    notes = []
    marks = "".join(row.worst_rel for row in rows) + "".join(r.worst_rel for ref in references for r in ref.rows)
    if "†" in marks:
        notes.append(NOTE_NEAR_ZERO)
    if "‡" in marks:
        notes.append(NOTE_COMBINED)
    verified, _ = verified_line([claim], [result])
    return ClaimView(
        id=claim.id, anchor=anchor or claim.id, statement=claim.statement, formula=formula,
        start=Formula((claim.lhs,)) if claim.lhs is not None else None,
        numeric_function=_doc(claim.numeric) if claim.numeric is not None else "",
        argument=tuple(render_statement(line) for line in claim.argument),
        definitions=tuple(Formula((symbol, ":=", definition)) for symbol, definition in claim.definitions.items()),
        assumptions=tuple(claim.assumptions), variables=variables, dims=_dims(claim), steps=tuple(steps),
        symbolic=symbolic_text(result.symbolic.status, result.symbolic.scope),
        # A proof's detail is sympy's own printout of the rewrites (str() of objects): the scope says what was
        # proved. Reasons for "not attempted" and "failed" are the authors' and the engine's words: shown.
        symbolic_detail=(result.symbolic.detail if status_name(result.symbolic.status) in ("not attempted", "failed")
                         else ""),
        lemmas=lemma_lines(result.symbolic),
        symbolic_css=_css(result.symbolic.status), outcome=symbolic_outcome(result.symbolic), numeric=rows,
        numeric_notes=tuple(notes),
        references=tuple(references), mutants=mutants, mutants_caught=f"{caught} of {len(result.mutants)}",
        status="passed" if result.passed else "FAILED", css="ok" if result.passed else "fail", verified=verified,
        failures=tuple(tuple(f.lines()) for f in result.failure_records))
