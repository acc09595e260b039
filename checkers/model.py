"""The data model of a checked derivation: derivations hold claims; claims hold steps, references and mutants."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Union

import sympy as sp
import torch

from checkers.errors import DeclarationError
from checkers.evaluate import evaluate
from checkers.kinds import Variable
from checkers.tolerances import Tolerance

if TYPE_CHECKING:
    from checkers.symbolic import Strategy


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate per instance: its mean and its standard error, both shaped (B,)."""

    mean: torch.Tensor
    stderr: torch.Tensor


Value = Union[torch.Tensor, Estimate]


@dataclass(frozen=True)
class Sample:
    """A batch of random instances of a claim's variables, at one dtype on one device.

    `values[name]` is batch-first; `dims` holds the dimension symbols' values for the whole batch;
    `seed` is the torch seed the batch was drawn from (so Monte Carlo noise can be seeded from it).
    """

    values: Mapping[str, torch.Tensor]
    dims: Mapping[str, int]
    seed: int
    size: int

    @property
    def dtype(self) -> torch.dtype:
        return next(iter(self.values.values())).dtype if self.values else torch.float64

    @property
    def device(self) -> torch.device:
        return next(iter(self.values.values())).device if self.values else torch.device("cpu")

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.values[name]

    def to(self, dtype: torch.dtype, device: torch.device | str) -> Sample:
        moved = {k: v.to(device=device, dtype=dtype) for k, v in self.values.items()}
        return replace(self, values=moved)

    def evaluate(self, expr: sp.Basic) -> torch.Tensor:
        """Evaluate a sympy expression on this batch at the sample's own dtype and device."""
        return evaluate(expr, self.values, self.dims, dtype=self.dtype, device=self.device, batch=self.size)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A CPU generator seeded from this batch, for claims that draw their own noise."""
        return torch.Generator().manual_seed(self.seed + offset)

    def instance(self, index: int, max_items: int = 12) -> dict[str, object]:
        """One instance as plain Python values, long tensors abbreviated, for failure reports."""
        out: dict[str, object] = dict(self.dims)
        for name, v in self.values.items():
            row = v[index].detach().to("cpu", torch.float64)
            if row.numel() <= max_items:
                out[name] = row.tolist() if row.dim() else float(row)
            else:
                out[name] = f"tensor of shape {tuple(row.shape)}, first values {row.flatten()[:4].tolist()}"
        return out


NumericFn = Callable[[Sample], tuple[Value, Value]]


@dataclass(frozen=True)
class Step:
    """One link lhs = ... = expr = ... = rhs of a claim's chain, with the reason it holds."""

    expr: sp.Basic
    justification: str
    relation: str = "="  # how this expression relates to the previous one in the chain
    symbolic: Strategy | None = None  # None: the claim's own strategy
    numeric: bool = True  # False when `expr` has no torch translation (an integral, an expectation)
    display: sp.Basic | None = None  # `expr` as the problem set writes it (evaluate=False); checked equal to `expr`


@dataclass(frozen=True)
class Reference:
    """An independent implementation (torch.distributions, autograd, Monte Carlo) of one side of a claim."""

    id: str
    description: str
    compute: Callable[[Sample], Value]
    side: str = "rhs"
    tolerance: Tolerance | None = None  # float64 tolerance; None: the table's
    # Non-empty: why this reference is only an illustration, not evidence (a Monte Carlo estimate whose
    # draws cannot reject a 2% error). A reference returning an Estimate that is not declared an
    # illustration must be that sharp: the engine fails it unless it rejects its side scaled by 1.02 and 0.98.
    illustration: str = ""
    # "=": |reference − side| within the tolerance; "<=": the reference never exceeds the side (beyond atol) and
    # falls short of it by at most atol + rtol·|side| (an observed maximum against a bound)
    relation: str = "="


@dataclass(frozen=True)
class Mutant:
    """A deliberately wrong variant of a claim that the checker must reject.

    Give either `rhs` (a wrong formula replacing the claim's right-hand side) or `numeric` (a wrong
    computation replacing the claim's numeric function).
    """

    id: str
    description: str
    rhs: sp.Basic | None = None
    numeric: NumericFn | None = None
    feedback: str = ""  # what a student who wrote this variant is told (checkers.grading); "" = the description


DEFAULT_DTYPES = (torch.float64, torch.float32, torch.float16)
_WARNED: set[tuple] = set()  # (claim id, step number, expression) already reported as a repeated step


@dataclass(frozen=True)
class Claim:
    """A statement `lhs relation rhs` over declared variables, checked symbolically, numerically and against references.

    relation: "=" or "<=" / ">=" (elementwise, per instance), or "≈" for a Monte Carlo estimate
    whose numeric function returns an `Estimate` (checked within `z` standard errors).
    """

    id: str
    statement: str
    lhs: sp.Basic | None = None
    rhs: sp.Basic | None = None
    relation: str = "="
    variables: tuple[Variable, ...] = ()
    dims: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    definitions: Mapping[sp.Symbol, sp.Basic] = field(default_factory=dict)  # e.g. {Sigma: A * A.T}
    assumptions: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    symbolic: Strategy | None = None
    numeric: NumericFn | None = None
    references: tuple[Reference, ...] = ()
    mutants: tuple[Mutant, ...] = ()
    tolerances: Mapping[torch.dtype, Tolerance] = field(default_factory=dict)
    dtypes: tuple[torch.dtype, ...] = DEFAULT_DTYPES
    instances: int = 1000
    z: float = 5.0
    argument: tuple[str, ...] = ()  # a claim checked by computation: the pen-and-paper argument, one step a line

    def __post_init__(self):
        if self.relation not in ("=", "<=", ">=", "≈"):
            raise ValueError(f"claim {self.id!r}: relation must be '=', '<=', '>=' or '≈' (got {self.relation!r})")
        if self.numeric is None and (self.lhs is None or self.rhs is None):
            raise ValueError(f"claim {self.id!r}: give lhs and rhs, or a numeric function")
        if not self.mutants:
            raise ValueError(f"claim {self.id!r}: every claim needs at least one mutant the checker must reject")
        if self.steps and self.rhs is not None and self.steps[-1].expr != self.rhs:
            raise ValueError(f"claim {self.id!r}: the chain of steps stops at {self.steps[-1].expr}, short of the "
                             f"right side {self.rhs}; end the chain with a step whose expression is the claim's rhs")
        previous = self.lhs
        for index, step in enumerate(self.steps, start=1):
            if previous is not None and step.expr == previous and (self.id, index, step.expr) not in _WARNED:
                import warnings

                from checkers.errors import AuthoringWarning

                _WARNED.add((self.id, index, step.expr))  # once: dataclasses.replace re-runs this check
                warnings.warn(f"claim {self.id!r}: step {index} ({step.justification!r}) is identical to the "
                              f"expression before it, so it proves nothing; remove it or write the step it "
                              f"describes", AuthoringWarning, stacklevel=3)
            previous = step.expr

    def expand_definitions(self, expr: sp.Basic | None) -> sp.Basic | None:
        """`expr` with defined symbols (Sigma := A A^T) replaced by their definitions, for symbolic proofs."""
        if expr is None or not self.definitions:
            return expr
        return expr.subs(dict(self.definitions))

    def sides(self, sample: Sample, rhs: sp.Basic | None = None) -> tuple[Value, Value]:
        """Both sides on `sample`: the claim's numeric function, or its sympy sides evaluated."""
        if self.numeric is not None and rhs is None:
            return self.numeric(sample)
        return sample.evaluate(self.lhs), sample.evaluate(self.rhs if rhs is None else rhs)


@dataclass(frozen=True)
class Figure:
    """A picture for the reports: `draw(ax)` plots on one matplotlib Axes from the derivation's own formulas."""

    id: str
    caption: str
    draw: Callable[[object], None]


@dataclass(frozen=True)
class Answer:
    """What a sub-question asks for, shown first in the solution and in the answer key.

    Give what the question asks for: `formula` (a sympy object that a claim of this derivation
    checks; `lhs` is printed before it as `lhs = formula`), `code` (a function of the proof module
    that the checks execute; its source is the listing), `algorithm` (numbered steps of prose,
    inline `$...$` math allowed) or `text` (prose, inline math allowed). `scope` says openly where
    the answer is checked only for stated dimensions or cases (the full solution prints it; the key
    does not). `code` may be a tuple of functions and classes: the listing is their sources in order.
    `display` (and `lhs_display`) are the formula as the problem set writes it, built unevaluated
    (`evaluate=False`, `UnevaluatedExpr`) to keep the author's order and indexing; the reports print
    them instead of `formula` and check that they equal it (`checkers.reporting.display`).
    """

    formula: sp.Basic | None = None
    lhs: sp.Basic | None = None
    relation: str = "="
    code: Callable | tuple | None = None
    algorithm: tuple[str, ...] = ()
    text: str = ""
    scope: str = ""
    display: sp.Basic | None = None
    lhs_display: sp.Basic | None = None
    named: str = ""  # what the formula is, in the problem's words (LaTeX math): printed `named = lhs = formula`

    def __post_init__(self):
        if self.display is not None and self.formula is None:
            raise ValueError("an Answer's display is the formula as printed: give the formula it displays")
        if self.formula is None and self.code is None and not self.algorithm and not self.text:
            raise ValueError("an Answer needs a formula, code, an algorithm or text")


@dataclass(frozen=True)
class Part:
    """One sub-question as the problem set letters it: its label, question, answer and the claims that check it.

    `label` is the exam's own lettering ("(a)", "(b)"; "" for a problem without sub-questions),
    `question` the seed text restated (LaTeX allowed), `claims` the ids of this derivation's claims
    whose steps form the worked derivation and whose checks are the evidence.
    """

    label: str
    question: str
    answer: Answer
    claims: tuple[str, ...] = ()


_PROBLEM_NUMBER = re.compile(r"P(?:roblem)?\s*(\d+)(.*)")  # "P4(b)", "Problem 4 (b)"
_SUB_QUESTION = re.compile(r"\(([a-z]+|[ivx]+)\)\s*$")  # the "(b)" or "(ii)" a citation ends with


@dataclass(frozen=True)
class Citation:
    """One problem a derivation answers, as its `source` cites it: "hw6-2021 P4(b)" is problem 4, sub-question
    (b), of the set hw6-2021. Read once, when the derivation is declared (`Derivation.citations`)."""

    set_id: str  # "hw6-2021"
    text: str  # what follows the set id, as written: "P4(b)"
    number: int | None = None  # 4; None when the citation names no problem number ("quiz1-2020 bonus")
    detail: str = ""  # what follows the number, as written: "(b)"
    letter: str = ""  # the sub-question: "(b)", "(ii)"; empty for a whole problem

    @classmethod
    def read(cls, part: str) -> Citation:
        """One comma-separated part of a source, stripped: its set id, then the problem it cites."""
        set_id, text = part.split(None, 1)
        letter = _SUB_QUESTION.search(text)
        letter = f"({letter.group(1)})" if letter else ""
        number = _PROBLEM_NUMBER.fullmatch(text)
        if number is None:
            return cls(set_id, text, None, "", letter)
        return cls(set_id, text, int(number.group(1)), number.group(2).rstrip(), letter)

    def label(self, numbering: str = "Problem") -> str:
        """How a document labels the problem: "Problem 4(b)" ("Question 4(b)" in a set that numbers questions);
        the citation as written when it names no number."""
        return f"{numbering} {self.number}{self.detail}" if self.number is not None else self.text


def read_citations(owner: str, source: str) -> tuple[Citation, ...]:
    """The problems a `source` cites ("hw6-2021 P1, student-hw6 P1"), in the order written; DeclarationError naming
    `owner` (the derivation or gradeable problem that declares it) if a part cites no problem or a set twice."""
    citations = []
    for part in source.split(","):
        words = part.split(None, 1)
        if len(words) < 2:
            raise DeclarationError(f"{owner}: source {source!r} has a part {part.strip()!r} "
                                   f"that cites no problem; write each as '<set id> P<number>', comma-separated, "
                                   f"e.g. 'hw6-2021 P4(b), student-hw6 P5(b)'")
        if any(c.set_id == words[0] for c in citations):
            raise DeclarationError(f"{owner}: source {source!r} cites {words[0]} twice; it "
                                   f"answers one problem of each set")
        citations.append(Citation.read(part.strip()))
    return tuple(citations)


@dataclass(frozen=True)
class Derivation:
    """A problem's worked solution: an id, a title, where it comes from, and its claims in order.

    `source` is printed as the author wrote it; `citations` are the problems it cites, read from it once here.
    """

    id: str
    title: str
    source: str  # problem-set reference, e.g. "hw6-2021 P3"
    claims: tuple[Claim, ...]
    statement: str = ""  # the problem, retyped (LaTeX allowed)
    figures: tuple[Figure, ...] = ()
    parts: tuple[Part, ...] = ()  # the sub-questions with their answers, in the problem set's order
    citations: tuple[Citation, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        known = {c.id for c in self.claims}
        for part in self.parts:
            unknown = [c for c in part.claims if c not in known]
            if unknown:
                raise ValueError(f"derivation {self.id!r}, part {part.label!r}: unknown claims {unknown}; "
                                 f"its claims are {sorted(known)}")
        object.__setattr__(self, "citations", read_citations(f"derivation {self.id!r}", self.source))

    @property
    def problem_sets(self) -> tuple[str, ...]:
        """Problem-set ids this derivation answers (e.g. ('hw6-2021', 'student-hw6'))."""
        return tuple(citation.set_id for citation in self.citations)

    def citation(self, set_id: str) -> Citation:
        """The problem this derivation answers in the set `set_id` (KeyError if it cites none there)."""
        for citation in self.citations:
            if citation.set_id == set_id:
                return citation
        raise KeyError(f"derivation {self.id!r} cites no problem of {set_id!r} (its source: {self.source!r})")
