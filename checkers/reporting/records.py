"""The records the report templates print: checked derivations and their results as plain, pre-formatted data.

Templates never compute: every number in these records is formatted, every status worded and every
colour class chosen (by `evidence` and `documents`). Formulas stay sympy objects (a `Formula` is a
sequence of expressions and relation signs) so that each output format prints them from the very
objects that were checked.

A document is organised as the problem set is: one `ProblemView` per problem number (derivations
that answer the same problem share it), one `PartView` per sub-question (`Derivation.parts`; a
derivation without parts gets one implicit part per claim). A part opens with its answer, then the
worked derivation (numbered steps with their justifications), then a one-line "Verified" summary;
the full evidence of each claim (`ClaimView`: symbolic detail, numeric table with the criterion
applied, references, mutants) goes to the appendix of the PDF and a `<details>` element in the HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from checkers.reporting.graded import GradedSection
from checkers.reporting.statements import RenderedStatement

__all__ = ["AnswerView", "ClaimView", "DerivationView", "FigureView", "Formula", "MutantView", "NumericRow",
           "PartView", "ProblemView", "ReferenceView", "RunView", "SetView", "StepView", "SymbolicOutcome",
           "VariableView"]


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


class SymbolicOutcome(StrEnum):
    """What the symbolic check of a claim established, in the words a summary counts claims by."""

    GENERAL = "proved symbolically in general"
    DIMENSIONS = "proved symbolically for stated dimensions"  # or another scope the proof printed
    LEMMAS = "supported by lemmas"
    NUMERIC_ONLY = "checked numerically only"
    FAILED = "symbolic check FAILED"


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
    outcome: SymbolicOutcome
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
