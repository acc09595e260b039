r"""What a gradeable problem declares: its reference (a checked claim in proofs/), symbols, instances, mistakes.

A Problem names a proof module and the id of one of its claims; the reference answer is that claim's
right-hand side, the very sympy object `proofcheck verify` checks, so the grader never carries a
formula of its own. Symbols are declared with the spellings students use and the kinds their random
instances are drawn from; `definitions` derive values (Σ = AAᵀ). Misconceptions are named wrong
answers built from the module's own symbols, plus the claim's mutants, each with the feedback a
student sees.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import ModuleType

import sympy as sp
import torch

from checkers.errors import InternalError, UsageError
from checkers.grading.build import SymbolTable, commuting, spelling_key
from checkers.kinds import Variable
from checkers.tolerances import DEFAULT_TOLERANCES, Tolerance

Builder = Callable[[ModuleType], sp.Basic]
WrongBuilder = Callable[[ModuleType, sp.Basic], sp.Basic]  # (proof module, reference) -> wrong formula


@dataclass(frozen=True)
class Symbol:
    r"""A symbol of the problem: module attribute `attr`, shown as `latex`, typed as any of `spellings`.

    `value` (optional) makes the spelling stand for an expression of other symbols, e.g. `\sigma` for
    √(σ²) when the module's symbol is the variance.
    """

    attr: str
    latex: str
    spellings: tuple[str, ...] = ()
    value: Builder | None = None
    listed: bool = True  # shown in "this problem's symbols are ..."
    family: bool = False  # an IndexedBase family written with an index, n_k


@dataclass(frozen=True)
class Misconception:
    """A named wrong answer and the feedback for it; `build` makes its formula from the module and the reference."""

    id: str
    feedback: str
    build: WrongBuilder


@dataclass(frozen=True)
class Problem:
    """A gradeable problem: reference claim, symbols, how instances are drawn, and known mistakes."""

    id: str
    title: str
    source: str  # problem set and problem, e.g. "hw6-2021 P5"
    module: str  # "proofs.kl_gaussian"
    claim: str  # id of the checked claim whose right-hand side is the reference answer
    symbols: tuple[Symbol, ...]
    variables: Callable[[ModuleType], tuple[Variable, ...]]  # drawn with checkers.kinds; names = sympy names
    dims: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # dimension symbol -> values checked
    dims_where: Callable[[Mapping[str, int]], bool] | None = None  # keep only these combinations (k <= n)
    sum_range: Callable[[ModuleType], tuple[sp.Basic, sp.Basic]] | None = None  # what a bare \sum_j runs over
    definitions: Callable[[ModuleType], Mapping[sp.Basic, sp.Basic]] | None = None  # derived values
    misconceptions: tuple[Misconception, ...] = ()
    mutant_feedback: Mapping[str, str] = field(default_factory=dict)  # claim mutant id -> feedback wording
    tolerance: Tolerance = DEFAULT_TOLERANCES[torch.float64]
    instances_per_group: int = 24
    seed: int = 20240429
    statement: str = ""

    @cached_property
    def math(self) -> ModuleType:
        """The proof module (imported on first use)."""
        try:
            return importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name == self.module:
                raise UsageError(f"problem {self.id!r} needs {self.module}, which is not in this checkout") from None
            raise

    @cached_property
    def checked_claim(self):
        """The claim (in the module's DERIVATIONS) whose right-hand side is this problem's reference."""
        found = [c for d in getattr(self.math, "DERIVATIONS", ()) for c in d.claims if c.id == self.claim]
        if len(found) != 1 or found[0].rhs is None:
            raise InternalError(f"{self.module} has {len(found)} claims with id {self.claim!r} and a sympy rhs; "
                                f"problem {self.id!r} needs exactly one")
        return found[0]

    @cached_property
    def reference_expr(self) -> sp.Basic:
        """The reference answer: the checked claim's right-hand side, the very object the engine verifies."""
        return self.checked_claim.rhs

    @cached_property
    def reference_as_built(self) -> sp.Basic:
        """The reference with 1 x 1 products written as the grammar builds them, to recognise identical answers."""
        return commuting(self.reference_expr)

    @cached_property
    def table(self) -> SymbolTable:
        """Spelling -> sympy object for this problem (the proof module's own symbols)."""
        entries: dict[str, sp.Basic] = {}
        families: dict[str, sp.IndexedBase] = {}
        for s in self.symbols:
            value = s.value(self.math) if s.value is not None else getattr(self.math, s.attr)
            target = families if s.family else entries
            for spelling in (s.latex, *s.spellings):
                key = spelling_key(spelling.split("_")[0] if s.family else spelling)
                if key in target and target[key] != value:
                    raise InternalError(f"problem {self.id}: spelling {spelling!r} means two things")
                target[key] = value
        listing = ", ".join(s.latex for s in self.symbols if s.listed)
        dims = self._dimension_symbols()
        by_name = {d.name: d for d in dims}
        combos = tuple({by_name[k]: sp.Integer(v) for k, v in c.items() if k in by_name} for c in self.dim_combinations())
        return SymbolTable(entries=entries, families=families, dimensions=frozenset(dims), listing=listing,
                           sum_range=self.sum_range(self.math) if self.sum_range else None, dimension_values=combos)

    def dim_combinations(self) -> list[dict[str, int]]:
        """Every combination of dimension values the answers are checked at (dims_where applied)."""
        names = list(self.dims)
        combos = [dict(zip(names, c)) for c in itertools.product(*(self.dims[n] for n in names))] or [{}]
        return [c for c in combos if self.dims_where is None or self.dims_where(c)]

    @cached_property
    def drawn(self) -> tuple[Variable, ...]:
        return tuple(self.variables(self.math))

    def _dimension_symbols(self) -> list[sp.Symbol]:
        found = []
        for s in self.symbols:
            value = getattr(self.math, s.attr, None)
            if isinstance(value, sp.Symbol) and value.name in self.dims:
                found.append(value)
        return found

    @cached_property
    def definition_map(self) -> dict[sp.Basic, sp.Basic]:
        return dict(self.definitions(self.math)) if self.definitions else {}

    def misconception_exprs(self) -> list[tuple[Misconception, sp.Basic]]:
        """Named mistakes: this problem's own, then the checked claim's mutants that have a formula."""
        out = [(m, m.build(self.math, self.reference_expr)) for m in self.misconceptions]
        for mutant in self.checked_claim.mutants:
            if mutant.rhs is not None:
                feedback = self.mutant_feedback.get(mutant.id, f"this is a known mistake: {mutant.description}")
                out.append((Misconception(mutant.id, feedback, lambda module, ref, e=mutant.rhs: e), mutant.rhs))
        return out

    def available(self) -> bool:
        """Whether the proof module this problem grades against exists in this checkout."""
        return importlib.util.find_spec(self.module) is not None
