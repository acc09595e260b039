r"""What a gradeable problem declares, beside the claim it grades: student spellings, named mistakes, and little else.

A `Problem` is written in a proof module next to its claim and takes the `Claim` object itself, so
the reference answer is that claim's right-hand side (the very sympy object `proofcheck verify`
checks), the random instances are drawn from the claim's own variables, kinds, definitions and
dimension ranges, and renaming or removing the claim breaks the declaration when the module is
imported. Only what is about grading is new: how students spell each symbol (`Symbol`), named
wrong answers with their feedback (`Misconception`; a claim's `Mutant` with a `feedback` counts as
one too), and, where a problem needs it, narrower dimensions or a different instance shape.

A claim without a sympy right-hand side (a network, a Monte Carlo estimate) can still be graded:
give `answer=` (the formula) and `witness=` (a function of the grader's `Sample` that computes
the same quantity independently, e.g. with torch); the grading tests check the formula against the
witness on every instance, so no reference formula goes unchecked. `exact=True` compares numbers
exactly (operation counts), never within a tolerance.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import sympy as sp
import torch

from checkers.errors import DeclarationError, InternalError
from checkers.kinds import Variable
from checkers.model import Claim, Sample, read_citations
from checkers.tolerances import DEFAULT_TOLERANCES, Tolerance

if TYPE_CHECKING:
    from checkers.grading.build import SymbolTable


def _is_function(target) -> bool:
    """Whether a Symbol's target is a function (σ as the sigmoid) rather than an object of the claim."""
    return isinstance(target, (sp.Lambda, sp.FunctionClass))


@dataclass(frozen=True)
class Symbol:
    r"""How students write one object of the claim: `target`, shown as `latex`, typed as any of `spellings`.

    `target` is the claim's own sympy object (a symbol, matrix symbol or `IndexedBase` family written
    with an index, x_k) or an expression of them (`\sigma` standing for √(σ²) when the claim's
    symbol is the variance; then set listed=False).
    """

    target: sp.Basic
    latex: str
    spellings: tuple[str, ...] = ()
    listed: bool = True  # shown in "this problem's symbols are ..."

    @property
    def family(self) -> bool:
        return isinstance(self.target, sp.IndexedBase)

    @property
    def name(self) -> str | None:
        """The sample entry (sympy name) of an atomic target; None for an expression."""
        if isinstance(self.target, sp.IndexedBase):
            return self.target.label.name
        if isinstance(self.target, (sp.Symbol, sp.MatrixSymbol)):
            return self.target.name
        return None


@dataclass(frozen=True)
class Misconception:
    """A named wrong answer: `wrong` is its formula, or a function of the reference that builds it."""

    id: str
    feedback: str
    wrong: sp.Basic | Callable[[sp.Basic], sp.Basic]

    def formula(self, reference: sp.Basic) -> sp.Basic:
        return self.wrong(reference) if callable(self.wrong) and not isinstance(self.wrong, sp.Basic) else self.wrong


Witness = Callable[[Sample], torch.Tensor]


@dataclass(frozen=True)
class Problem:
    """A gradeable problem: the claim it grades, student spellings, named mistakes; the rest comes from the claim."""

    id: str
    title: str
    source: str  # problem set and problem, e.g. "hw6-2021 P5": `proofcheck grade --list` prints it as [hw6-2021 P5]
    claim: Claim
    symbols: tuple[Symbol, ...]
    misconceptions: tuple[Misconception, ...] = ()
    mutant_feedback: Mapping[str, str] = field(default_factory=dict)  # claim mutant id -> feedback (or Mutant.feedback)
    statement: str = ""
    answer: sp.Basic | None = None  # the reference formula; default: the claim's right-hand side
    witness: Witness | None = None  # required with `answer`: the same quantity computed independently
    variables: tuple[Variable, ...] | None = None  # default: the claim's
    definitions: Mapping[sp.Basic, sp.Basic] | None = None  # default: the claim's (Σ = AAᵀ)
    dims: Mapping[str, tuple[int, ...]] | None = None  # default: every value of the claim's ranges
    dims_where: Callable[[Mapping[str, int]], bool] | None = None  # keep only these combinations (k <= n)
    sum_range: tuple[sp.Basic, sp.Basic] | None = None  # what a bare \sum_j runs over
    tolerance: Tolerance = DEFAULT_TOLERANCES[torch.float64]
    exact: bool = False  # an exact number (a count): compared exactly, no instances
    instances_per_group: int = 24
    seed: int = 20240429

    def __post_init__(self):
        where = f"gradeable problem {self.id!r}"
        if any(citation.number is None for citation in read_citations(where, self.source)):
            raise DeclarationError(f"{where}: source must cite problems by number, like 'hw6-2021 P3' "
                                   f"(got {self.source!r})")
        if not isinstance(self.claim, Claim):
            raise TypeError(f"{where}: claim must be the Claim object it grades (got {type(self.claim).__name__})")
        if self.answer is None and self.claim.rhs is None:
            raise ValueError(f"{where}: claim {self.claim.id!r} has no sympy right-hand side; give answer= (the "
                             f"formula) and witness= (the same quantity computed independently)")
        if self.answer is not None and self.witness is None and not (self.exact and self.answer.is_Number):
            raise ValueError(f"{where}: answer= needs witness=, an independent computation it is tested against")
        mutant_ids = {m.id for m in self.claim.mutants}
        stray = sorted(set(self.mutant_feedback) - mutant_ids)
        if stray:
            raise ValueError(f"{where}: mutant_feedback names {stray}, which are not mutants of claim "
                             f"{self.claim.id!r} ({', '.join(sorted(mutant_ids))})")
        if not self.misconceptions and not (self.answer is None and any(
                m.rhs is not None and (m.feedback or m.id in self.mutant_feedback) for m in self.claim.mutants)):
            raise ValueError(f"{where}: declare at least one named misconception (or a mutant with feedback)")
        known = self._objects()
        for s in self.symbols:
            atoms = ({s.target} if s.name is not None else set() if _is_function(s.target) else
                     {a.base if isinstance(a, sp.Indexed) else a for a in s.target.free_symbols})
            missing = [a for a in atoms if a not in known and getattr(a, "name", None) not in self.dim_ranges]
            if missing:
                raise ValueError(f"{where}: symbol {s.latex} names {', '.join(map(str, missing))}, which the claim "
                                 f"{self.claim.id!r} (answer, variables, definitions, dimensions) does not have")
        dims = self.dim_ranges
        unknown = [d for d in dims if d not in {str(x) for x in known} | set(self.claim.dims) |
                   {s.name for s in self.symbols}]  # a dimension may only shape the instances (f in y's length)
        if unknown:
            raise ValueError(f"{where}: dimensions {unknown} are not symbols of the answer, the claim or the problem")

    # -- what comes from the claim ----------------------------------------------------------------
    @property
    def reference_expr(self) -> sp.Basic:
        """The reference answer: the declared formula, or the checked claim's right-hand side."""
        return self.answer if self.answer is not None else self.claim.rhs

    @property
    def drawn(self) -> tuple[Variable, ...]:
        return tuple(self.variables if self.variables is not None else self.claim.variables)

    @property
    def definition_map(self) -> dict[sp.Basic, sp.Basic]:
        return dict(self.definitions if self.definitions is not None else self.claim.definitions)

    @property
    def dim_ranges(self) -> dict[str, tuple[int, ...]]:
        if self.dims is not None:
            return {k: tuple(v) for k, v in self.dims.items()}
        return {k: tuple(range(lo, hi + 1)) for k, (lo, hi) in self.claim.dims.items()}

    def _objects(self) -> set[sp.Basic]:
        exprs = [self.reference_expr, *self.definition_map.keys(), *self.definition_map.values()]
        found: set[sp.Basic] = set()
        for e in exprs:
            found |= e.atoms(sp.Symbol, sp.MatrixSymbol, sp.IndexedBase)
            found |= {i.base for i in e.atoms(sp.Indexed)}
            found |= {i.base.label for i in e.atoms(sp.Indexed)}
        found |= {sp.Symbol(v.name) for v in self.drawn}
        return {f for f in found if not getattr(f, "is_Dummy", False)}

    @cached_property
    def reference_as_built(self) -> sp.Basic:
        """The reference with 1 x 1 products written as the grammar builds them, to recognise identical answers."""
        from checkers.grading.build import commuting  # the parser's module (and lark) load when grading starts

        return commuting(self.reference_expr)

    def dim_combinations(self) -> list[dict[str, int]]:
        """Every combination of dimension values the answers are checked at (dims_where applied)."""
        ranges = self.dim_ranges
        names = list(ranges)
        combos = [dict(zip(names, c)) for c in itertools.product(*(ranges[n] for n in names))] or [{}]
        return [c for c in combos if self.dims_where is None or self.dims_where(c)]

    def _dimension_symbols(self) -> list[sp.Symbol]:
        ranges = self.dim_ranges
        return [s for s in self.reference_expr.free_symbols | {x.target for x in self.symbols}
                if isinstance(s, sp.Symbol) and s.name in ranges]

    @cached_property
    def table(self) -> SymbolTable:
        """Spelling -> sympy object for this problem (the claim's own objects)."""
        from checkers.grading.build import SymbolTable, family_ranges_from, spelling_key

        entries: dict[str, sp.Basic] = {}
        families: dict[str, sp.IndexedBase] = {}
        for s in self.symbols:
            target = families if s.family else entries
            for spelling in (s.latex, *s.spellings):
                key = spelling_key(spelling.split("_")[0] if s.family else spelling)
                if key in target and target[key] != s.target:
                    raise InternalError(f"problem {self.id}: spelling {spelling!r} means two things")
                target[key] = s.target
        listing = ", ".join(s.latex for s in self.symbols if s.listed)
        dims = self._dimension_symbols()
        by_name = {d.name: d for d in dims}
        combos = tuple({by_name[k]: sp.Integer(v) for k, v in c.items() if k in by_name} for c in self.dim_combinations())
        return SymbolTable(entries=entries, families=families, dimensions=frozenset(dims), listing=listing,
                           sum_range=self.sum_range, dimension_values=combos,
                           family_ranges=family_ranges_from(self.reference_expr))

    @cached_property
    def sampling_claim(self) -> Claim:
        """The claim with this problem's variables and definitions: what the engine's `draw_sample` draws from."""
        return dataclasses.replace(self.claim, variables=self.drawn, definitions=self.definition_map)

    def misconception_exprs(self) -> list[tuple[Misconception, sp.Basic]]:
        """Named mistakes: this problem's own, then the claim's mutants that have a formula and feedback."""
        out = [(m, m.formula(self.reference_expr)) for m in self.misconceptions]
        if self.answer is None:  # the mutants replace the claim's right-hand side, which is this reference
            for mutant in self.claim.mutants:
                if mutant.rhs is not None:
                    feedback = (self.mutant_feedback.get(mutant.id) or mutant.feedback
                                or f"this is a known mistake: {mutant.description}")
                    out.append((Misconception(mutant.id, feedback, mutant.rhs), mutant.rhs))
        return out

    def index_entry(self, module: str) -> dict:
        """What `proofcheck grade --list` prints, as stored in the static index (no import needed to print it)."""
        return {"id": self.id, "title": self.title, "source": self.source, "module": module, "claim": self.claim.id,
                "symbols": [s.latex for s in self.symbols if s.listed],
                "dims": {k: list(v) for k, v in self.dim_ranges.items()}, "exact": self.exact,
                "misconceptions": [m.id for m, _ in self.misconception_exprs()]}
