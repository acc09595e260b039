"""Problem sets (declared by the proof packages), and how derivations are grouped into them and ordered by problem number."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checkers.model import Derivation

__all__ = ["ProblemSet", "Placement", "group_by_set"]


@dataclass(frozen=True)
class ProblemSet:
    """One problem set of a course, declared in its proof package's `__init__` (`PROBLEM_SETS = (ProblemSet(...),)`).

    `id` is the tag derivations cite in `source` ("hw6-2021 P5" places a derivation as problem 5 of
    `hw6-2021`); `date` is printed after the title ("Homework 6 (due 2021-11-09)"); `numbering` is the
    word problems are labelled with ("Problem 5"); `answers` names a data module of the proof package
    whose ANSWERS the report grades (reporting.graded); `names` are what the set's own text defines, which
    a code answer may use without defining it; `log_name` is how the set writes the natural logarithm.
    The order of `PROBLEM_SETS` is the course order.
    """

    id: str
    title: str
    description: str
    answers: str = ""
    date: str = ""
    numbering: str = "Problem"
    names: tuple[str, ...] = ()  # what the set's own text defines, that a code answer may use without defining it
    log_name: str = "log"  # how the set writes the natural logarithm ("ln" in the quiz)

    @property
    def heading(self) -> str:
        """The title with the date, as documents print it."""
        return f"{self.title} ({self.date})" if self.date else self.title


@dataclass(frozen=True)
class Placement:
    """Where a derivation sits in one problem set: its label there ("Problem 3(a)") and sort key."""

    derivation: Derivation
    label: str
    sort_key: tuple
    number: str = ""  # the problem it answers ("3"; the whole label when the source names no number)
    letter: str = ""  # the sub-question it answers ("(a)", "(ii)"; empty for a whole problem)


def _placement(derivation: Derivation, problem_set: ProblemSet) -> Placement:
    citation = derivation.citation(problem_set.id)
    if citation.number is None:
        key = (float("inf"), citation.text, derivation.id)
        number = citation.text
    else:
        key = (citation.number, citation.detail.strip(), derivation.id)
        number = str(citation.number)
    return Placement(derivation, citation.label(problem_set.numbering), key, number, citation.letter)


def group_by_set(derivations: Iterable[Derivation], declared: Iterable[ProblemSet] | None = None
                 ) -> dict[ProblemSet, list[Placement]]:
    """Problem sets (declared ones in course order, then any others by id) with their derivations by problem.

    `declared` defaults to the sets the proof packages declare (checkers.registry.problem_sets). A set
    that no derivation answers is left out: it gets no document.
    """
    if declared is None:
        from checkers.registry import problem_sets

        declared = problem_sets()
    declared = tuple(declared)
    derivations = list(derivations)
    known = {s.id: s for s in declared}
    ids = {set_id for d in derivations for set_id in d.problem_sets}
    order = [s.id for s in declared if s.id in ids] + sorted(ids - set(known))
    out: dict[ProblemSet, list[Placement]] = {}
    for set_id in order:
        problem_set = known.get(set_id) or ProblemSet(set_id, set_id, "")
        placements = [_placement(d, problem_set) for d in derivations if set_id in d.problem_sets]
        out[problem_set] = sorted(placements, key=lambda p: p.sort_key)
    return out
