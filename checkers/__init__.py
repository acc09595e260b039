"""proofcheck's public API: the data model a proof module uses, and the entry points to check and grade."""

from checkers.errors import ProofcheckError, StudentInputError, UsageError
from checkers.grading import grade
from checkers.kinds import (SPD, DensityOnGrid, Integer, Invertible, Matrix, Positive, ProbabilityVector, Real, Variable,
                            Vector, density_grid)
from checkers.model import Answer, Claim, Derivation, Estimate, Figure, Mutant, Part, Reference, Sample, Step
from checkers.symbolic import explicit_entries, facts, for_dimensions, identity, not_attempted
from checkers.tolerances import Tolerance
from checkers.verify import verify

__all__ = [
    "SPD", "Answer", "Claim", "DensityOnGrid", "Derivation", "Estimate", "Figure", "Integer", "Invertible", "Matrix", "Mutant", "Part", "Positive",
    "ProbabilityVector", "ProofcheckError", "Real", "Reference", "Sample", "Step", "StudentInputError", "Tolerance",
    "UsageError", "Variable", "Vector", "density_grid", "explicit_entries", "facts", "for_dimensions", "grade",
    "identity", "not_attempted", "verify",
]
