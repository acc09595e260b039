"""The course's problem sets, and how derivations are grouped into them and ordered by problem number."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from checkers.model import Derivation

__all__ = ["KNOWN_SETS", "ProblemSet", "Placement", "group_by_set"]


@dataclass(frozen=True)
class ProblemSet:
    """One problem set of the course material (`shared/seeds/README.md`)."""

    id: str
    title: str
    description: str
    answers: str = ""  # a data module of the proof packages whose ANSWERS the report grades (reporting.graded)
    names: tuple[str, ...] = ()  # what the set's own text defines, that a code answer may use without defining it
    log_name: str = "log"  # how the set writes the natural logarithm ("ln" in the quiz)


KNOWN_SETS = (
    ProblemSet("hw6-2021", "Homework 6 (due 2021-11-09)",
               "Batch-norm removal, default-initialisation variance, Gaussian change of variables, "
               "KL divergence of continuous variables, Gaussian KL in closed form.",
               names=("smallNetTrain", "smallNetTest", "model", "model_test")),
    ProblemSet("student-hw6", "A submitted solution to Homework 6",
               "One student's handwritten solution. Its final formulas (Problem 1's folded batch-norm weight "
               "and bias, Problem 2's output variance, Problem 4's Gaussian density, Problem 6's Gaussian KL), "
               "transcribed from the submission, are graded against the checked reference claims: each with "
               "its verdict, the grader's feedback and, where it is wrong, an instance on which it differs "
               "from the reference. After them, the derivations of the problems it answers, checked claim by "
               "claim.",
               answers="student_hw6_answers", names=("smallNetTrain", "smallNetTest", "model", "model_test")),
    ProblemSet("hw7-2024", "Homework 7 (due 2024-04-29)",
               "Log-sum-exp limits and the softmax gradient, AlexNet operation counts, batch-norm removal, "
               "backpropagation through 1-D convolutions, fully-connected layers as convolutions.",
               names=("Net1", "model1", "model2", "images", "smallNetTrain", "smallNetTest")),
    ProblemSet("final-2022", "Final exam (2022-12-17)",
               "LayerNorm, HINT flow, flow maximum likelihood as KL plus entropy, VAE with Bernoulli likelihood, "
               "VAE prior scaling, geometric GAN and total variation, ResNeXt block.",
               names=("myBatchNorm", "twoResNext", "twoResNet")),
    ProblemSet("quiz1-2020", "Quiz 1 (2020)",
               "Mutual information, the ELBO decomposition, backpropagation loops for batch norm, RNN parallel time.",
               names=("CELL", "Phi", "X", "ZERO"), log_name="ln"),
)


@dataclass(frozen=True)
class Placement:
    """Where a derivation sits in one problem set: its label there ("Problem 3") and sort key."""

    derivation: Derivation
    label: str
    sort_key: tuple


def _placement(derivation: Derivation, set_id: str) -> Placement:
    part = next(p.strip() for p in derivation.source.split(",") if p.strip().split()[0] == set_id)
    rest = part[len(set_id):].strip()
    match = re.fullmatch(r"P(?:roblem)?\s*(\d+)(.*)", rest)
    if match:
        label = f"Problem {match.group(1)}{match.group(2).rstrip()}"
        key = (int(match.group(1)), match.group(2).strip(), derivation.id)
    else:
        label = rest
        key = (float("inf"), rest, derivation.id)
    return Placement(derivation, label, key)


def group_by_set(derivations: Iterable[Derivation]) -> dict[ProblemSet, list[Placement]]:
    """Problem sets (known ones in course order, then any others by id) with their derivations by problem.

    A set that no derivation answers is left out: it gets no document.
    """
    derivations = list(derivations)
    known = {s.id: s for s in KNOWN_SETS}
    ids = {set_id for d in derivations for set_id in d.problem_sets}
    order = [s.id for s in KNOWN_SETS if s.id in ids] + sorted(ids - set(known))
    out: dict[ProblemSet, list[Placement]] = {}
    for set_id in order:
        problem_set = known.get(set_id) or ProblemSet(set_id, set_id, "")
        placements = [_placement(d, set_id) for d in derivations if set_id in d.problem_sets]
        out[problem_set] = sorted(placements, key=lambda p: p.sort_key)
    return out
