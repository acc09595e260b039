"""__TITLE__: the course's problem sets (in course order) and the problems `proofcheck serve` warms first."""

from checkers import ProblemSet

PROBLEM_SETS = (
    ProblemSet("hw1", "Homework 1", "Derivatives of the activation functions of a small network.",
               date="due __DATE__", numbering="Problem"),
)

WARM_FIRST = ("softplus-derivative",)
