"""What the templates show: checked derivations and their results turned into plain, pre-formatted records.

Templates never compute: every number is formatted, every status worded and every colour class
chosen here. Formulas stay sympy objects (a `Formula` is a sequence of expressions and relation
signs) so that each output format prints them from the very objects that were checked.

A document is organised as the problem set is: one `ProblemView` per problem number (derivations
that answer the same problem share it), one `PartView` per sub-question (`Derivation.parts`; a
derivation without parts gets one implicit part per claim). A part opens with its answer, then the
worked derivation (numbered steps with their justifications), then a one-line "Verified" summary;
the full evidence of each claim (`ClaimView`: symbolic detail, numeric table with the criterion
applied, references, mutants) goes to the appendix of the PDF and a `<details>` element in the HTML.
"""

from __future__ import annotations

import datetime
import inspect
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp
from markupsafe import Markup, escape

from checkers.model import Answer, Claim, Derivation
from checkers.reporting.display import Named, displayed
from checkers.reporting.graded import GradedSection
from checkers.reporting.latex_escape import escape_latex
from checkers.reporting.problem_sets import Placement, ProblemSet
from checkers.reporting.statements import RenderedStatement, render_statement
from checkers.results import ClaimResult, DerivationResult, NumericResult, RunResult
from checkers.symbolic import SymbolicResult, SymbolicStatus

__all__ = ["AnswerView", "ClaimView", "FigureView", "Formula", "PartView", "ProblemView", "RunView", "SetView",
           "claim_view", "group_problems", "run_view", "set_view", "status_name"]

RELATIONS = ("=", "<=", ">=", "≈", ":=")
HALF_PRECISION = ("float16", "bfloat16")


@dataclass(frozen=True)
class Formula:
    """Sympy expressions interleaved with relation signs, e.g. (lhs, "=", rhs) or ("=", step)."""

    parts: tuple


@dataclass(frozen=True)
class NumericRow:
    device: str
    dtype: str
    instances: str
    worst_abs: str
    worst_rel: str  # "—" where a relative error would divide by a near-zero reference value
    criterion: str  # the test actually applied, e.g. "|lhs − rhs| ≤ atol + rtol·|rhs| + rounding bound"
    tolerance: str  # "rtol 1.0e-07, atol 1.0e-07"
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
    """One claim: its statement and formula (for the derivation) and all its evidence (for the appendix)."""

    id: str
    anchor: str
    statement: str
    formula: Formula | None
    start: Formula | None  # the left-hand side a chain of steps starts from
    numeric_function: str  # the docstring of a claim's own numeric function, if it has one
    argument: tuple[RenderedStatement, ...]  # the argument a student could write, for a claim checked by computing
    definitions: tuple[Formula, ...]
    assumptions: tuple[str, ...]
    variables: tuple[VariableView, ...]
    dims: str
    steps: tuple[StepView, ...]
    symbolic: str
    symbolic_detail: str
    symbolic_css: str
    lemmas: tuple[str, ...]  # what a claim "supported by lemmas" rests on, each said once
    numeric: tuple[NumericRow, ...]
    numeric_notes: tuple[str, ...]  # explanations of the marks in the numeric table, each said once
    references: tuple[ReferenceView, ...]
    mutants: tuple[MutantView, ...]
    mutants_caught: str
    status: str  # "passed" / "FAILED"
    css: str
    verified: str  # the one-line summary of the evidence
    failures: tuple[tuple[str, ...], ...]  # each failure report as its lines


@dataclass(frozen=True)
class AnswerView:
    """A sub-question's answer in one of four shapes; `kind` says which field is set."""

    kind: str  # "formula" | "code" | "algorithm" | "text"
    formula: Formula | None = None
    code: str = ""
    code_name: str = ""
    algorithm: tuple[RenderedStatement, ...] = ()
    text: RenderedStatement | None = None
    scope: RenderedStatement | None = None


@dataclass(frozen=True)
class PartView:
    """One sub-question: label, question, answer, the worked derivation and the one-line verification."""

    anchor: str
    label: str  # "(a)", "" for a problem without sub-questions
    heading: str  # what the sub-section is called
    question: RenderedStatement | None
    answer: AnswerView | None  # None only for the supporting-lemmas part
    claims: tuple[ClaimView, ...]  # their statements and steps are the derivation
    status: str
    css: str
    verified: str  # "Verified: ..." or "FAILED: ..."
    implicit: bool = False  # the answer is the claim's own formula (a derivation that declares no parts)


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
class DerivationView:
    """One derivation's contribution to a problem: where it comes from, its figures, its parts and claims."""

    id: str
    title: str
    source: str
    statement: RenderedStatement
    figures: tuple[FigureView, ...]
    parts: tuple[PartView, ...]
    claims: tuple[ClaimView, ...]  # every claim, for the appendix
    status: str
    css: str
    summary: str
    checked: str


@dataclass(frozen=True)
class ProblemView:
    """One problem of the set, numbered as the set numbers it: the derivations that answer it."""

    anchor: str
    label: str  # "Problem 3"
    title: str
    derivations: tuple[DerivationView, ...]
    status: str  # "passed" / "FAILED"
    css: str
    summary: str  # the one-line status shown in the index and under the heading
    how_checked: str = ""  # the answer key's one footnote on how the answers were checked, in plain words

    @property
    def parts(self) -> tuple[PartView, ...]:
        return tuple(p for d in self.derivations for p in d.parts)

    @property
    def claims(self) -> tuple[ClaimView, ...]:
        return tuple(c for d in self.derivations for c in d.claims)

    @property
    def figures(self) -> tuple[FigureView, ...]:
        return tuple(f for d in self.derivations for f in d.figures)

    @property
    def answer_parts(self) -> tuple[PartView, ...]:
        """The parts with an answer, in the seed's letter order across derivations (unlabelled ones last)."""
        parts = [p for p in self.parts if p.answer is not None]
        return tuple(sorted(parts, key=lambda p: (not p.label, _label_key(p.label) if p.label else ())))

    @property
    def ordered_parts(self) -> tuple[PartView, ...]:
        """Every part, answered ones in the seed's letter order (extras after them), then the supporting lemmas."""
        return self.answer_parts + tuple(p for p in self.parts if p.answer is None)

    @property
    def letters(self) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
        """For a problem several derivations answer: each sub-question label in the seed's order, with the
        (derivation title, part anchor) pairs that answer it, so that a reader finds (a), (b), ... in order."""
        by_label: dict[str, list[tuple[str, str]]] = {}
        for d in self.derivations:
            for part in d.parts:
                if part.label:
                    by_label.setdefault(part.label, []).append((d.title, part.anchor))
        return tuple((label, tuple(by_label[label])) for label in sorted(by_label, key=_label_key))


@dataclass(frozen=True)
class SetView:
    id: str
    title: str
    description: str
    problems: tuple[ProblemView, ...]
    status: str  # the document's headline status: "passed", "FAILED", or "2 of 5 answers wrong"
    css: str
    summary: str
    run: RunView
    graded: GradedSection | None = None  # the submitted answers, graded (sets with `ProblemSet.answers`)
    checks_summary: str = ""  # the reference derivations' status, when the headline is about graded answers


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}


def _label_key(label: str) -> tuple:
    """A sub-question label's place in the seed's order: (a) < (b) < ... < (z); (i) < (ii) < ... as numerals."""
    inner = label.strip().strip("()").lower()
    if inner in _ROMAN and inner not in ("i", "v", "x"):
        return (1, _ROMAN[inner], inner)
    return (0, 0, inner)


# -- wording of statuses and numbers -----------------------------------------------------------------------------

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


def _criterion(claim: Claim | None, dtype: str) -> str:
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


def _numeric_row(r: NumericResult, claim: Claim | None = None, criterion_claim: Claim | None = None,
                 monte_carlo: bool = False) -> NumericRow:
    """One row; `claim` gives the relation (and whether the rounding bound applies); `monte_carlo`: the row
    compares with a Monte Carlo estimate (a reference that returns one), judged within z standard errors."""
    crit_claim = criterion_claim if criterion_claim is not None else claim
    criterion = _criterion(crit_claim, r.dtype)
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
NOTE_HALF = ("Half precision (float16/bfloat16) rows test that the formula can be evaluated in half precision within its rounding "
             "bound; the identity itself is exact and is established by the symbolic proof and the float64 rows.")


def _symbolic_text(status: object, scope: str, detail: str = "") -> str:
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


# How a list of lemmas opens: a claim "supported by lemmas" is not proved by them.
LEMMAS_LEAD = "lemmas proved, the claim's own formula not derived from them"


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
    return tuple(head if not has_cases else (f"{head} for each of: {' | '.join(cases)}" if len(cases) > 1
                                             else f"{head} for {cases[0]}")
                 for (head, has_cases), cases in groups.items())


def lemma_lines(symbolic: SymbolicResult) -> tuple[str, ...]:
    """What a claim "supported by lemmas" rests on, each lemma said once, opened by what they do not establish."""
    if symbolic.status != SymbolicStatus.SUPPORTED or not symbolic.lemmas:
        return ()
    first, *rest = said_once(symbolic.lemmas)
    return (f"{LEMMAS_LEAD}: {first}", *rest)


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
            out.append(f"${lead[0]}_{{{script}}}$")
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


def _verified_line(claims: list[Claim], results: list[ClaimResult]) -> tuple[str, str]:
    """("Verified: ..." or "FAILED: ...", css) for the claims of one part."""
    failed = [r for r in results if not r.passed]
    if failed:
        reasons = [f"{r.id}: {r.failure_records[0].lines()[0] if r.failure_records else 'failed'}" for r in failed]
        return "FAILED: " + "; ".join(reasons), "fail"
    texts = [_symbolic_text(r.symbolic.status, r.symbolic.scope) for r in results]
    symbolic = []
    if len(set(texts)) == 1:  # the lemmas themselves are listed in the evidence: one line stays one line
        symbolic.append(texts[0])
    else:  # several claims with different outcomes: how many of each, never "proved; not proved" side by side
        general = texts.count("proved symbolically in general")
        some = sum(t.startswith("proved symbolically for") for t in texts)
        lemmas = sum(t.startswith("supported by lemmas") for t in texts)
        numeric_only = sum(t.startswith("not proved symbolically") for t in texts)
        failed = texts.count("symbolic check FAILED")
        pieces = [f"{general} proved symbolically in general" if general else "",
                  f"{some} proved symbolically for stated dimensions" if some else "",
                  f"{lemmas} supported by lemmas" if lemmas else "",
                  f"{numeric_only} checked numerically only" if numeric_only else "",
                  f"{failed} symbolic check FAILED" if failed else ""]
        symbolic.append(f"of {len(texts)} claims, " + ", ".join(p for p in pieces if p))
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
                continue  # an exact identity: half precision only measures rounding (explained in the appendix)
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
        detail = f": {sr.symbolic.detail}" if name not in ("proved", "supported by lemmas") and sr.symbolic.detail \
            else ""
        shown = displayed(step.display, step.expr, f"claim {claim.id!r}, step {sr.index}")
        steps.append(StepView(sr.index, Formula((step.relation, shown)), step.justification,
                              _symbolic_text(sr.symbolic.status, sr.symbolic.scope, sr.symbolic.detail) + detail,
                              numeric,
                              "ok" if sr.passed and name == "proved" else ("fail" if not sr.passed else "warn")))
    references = []
    for ref in result.references:
        references.append(ReferenceView(ref.id, ref.description,
                                        tuple(_numeric_row(r, claim, monte_carlo=ref.monte_carlo) for r in ref.results),
                                        ("illustration" if ref.illustration else "passed") if ref.passed else "FAILED",
                                        "ok" if ref.passed else "fail"))
    mutants = tuple(MutantView(m.id, m.description, "caught" if m.caught else "SURVIVED", m.evidence,
                               "ok" if m.caught else "fail") for m in result.mutants)
    caught = sum(m.caught for m in result.mutants)
    symbols = {v.name: v for v in claim.variables}
    variables = tuple(VariableView(Formula((sp.Symbol(name),)), readable(v.kind.description))
                      for name, v in symbols.items())
    rows = tuple(_numeric_row(r, claim) for r in result.numeric)
    notes = []
    marks = "".join(row.worst_rel for row in rows) + "".join(r.worst_rel for ref in references for r in ref.rows)
    if "†" in marks:
        notes.append(NOTE_NEAR_ZERO)
    if "‡" in marks:
        notes.append(NOTE_COMBINED)
    verified, _ = _verified_line([claim], [result])
    return ClaimView(
        id=claim.id, anchor=anchor or claim.id, statement=claim.statement, formula=formula,
        start=Formula((claim.lhs,)) if claim.lhs is not None else None,
        numeric_function=_doc(claim.numeric) if claim.numeric is not None else "",
        argument=tuple(render_statement(line) for line in claim.argument),
        definitions=tuple(Formula((symbol, ":=", definition)) for symbol, definition in claim.definitions.items()),
        assumptions=tuple(claim.assumptions), variables=variables, dims=_dims(claim), steps=tuple(steps),
        symbolic=_symbolic_text(result.symbolic.status, result.symbolic.scope),
        # A proof's detail is sympy's own printout of the rewrites (str() of objects): the scope says what was
        # proved. Reasons for "not attempted" and "failed" are the authors' and the engine's words: shown.
        symbolic_detail=(result.symbolic.detail if status_name(result.symbolic.status) in ("not attempted", "failed")
                         else ""),
        lemmas=lemma_lines(result.symbolic),
        symbolic_css=_css(result.symbolic.status), numeric=rows, numeric_notes=tuple(notes),
        references=tuple(references), mutants=mutants, mutants_caught=f"{caught} of {len(result.mutants)}",
        status="passed" if result.passed else "FAILED", css="ok" if result.passed else "fail", verified=verified,
        failures=tuple(tuple(f.lines()) for f in result.failure_records))


# -- answers and parts -------------------------------------------------------------------------------------------

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
    verified, css = _verified_line(claims, results) if claims else ("No check is attached to this answer", "warn")
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
    texts = [c.symbolic for c in claims]
    general = sum(t == "proved symbolically in general" for t in texts)
    some = sum(t.startswith("proved symbolically") for t in texts)
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
