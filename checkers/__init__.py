"""proofcheck's public API: everything a proof module uses (the authoring surface), and the entry points to check and grade.

A proof module imports only from here: kinds of variables, `Claim`, `Derivation` and the rest of the
data model, symbolic strategies, Monte Carlo helpers, declarable functions such as `SIGMOID`, and the
grading declarations `Problem`, `Symbol`, `Misconception`; a course package declares its problem sets
with `ProblemSet`. The modules these names come from are internal.

Names are imported on first use (PEP 562), so `import checkers` and commands that only print (such as
`proofcheck grade --list` and `--help`) do not pay for importing torch and sympy.
"""

from __future__ import annotations

import importlib

from checkers.errors import ProofcheckError, StudentInputError, UsageError

_LAZY = {
    "grade": "checkers.grading",
    **dict.fromkeys(("Misconception", "Problem", "Symbol"), "checkers.grading.problem"),
    "SIGMOID": "checkers.grading.build",
    **dict.fromkeys(("SPD", "Constant", "DensityOnGrid", "Integer", "Invertible", "Kind", "Matrix", "OneOf", "Positive",
                     "ProbabilityVector", "Real", "Variable", "Vector", "append_value", "density_grid", "one_based"),
                    "checkers.kinds"),
    "per_batch": "checkers.memo",
    "running_error": "checkers.rounding",
    **dict.fromkeys(("Answer", "Claim", "Derivation", "Estimate", "Figure", "Mutant", "Part", "Reference", "Sample",
                     "Step"), "checkers.model"),
    **dict.fromkeys(("chunked_estimate", "estimate", "gauss_hermite_normal", "segment_variance_estimate",
                     "sharpness_mutants", "variance_estimate"), "checkers.montecarlo"),
    **dict.fromkeys(("Scalar", "quadratic_form"), "checkers.notation"),
    "ProblemSet": "checkers.reporting.problem_sets",
    **dict.fromkeys(("IndexedMax", "IndexedMin"), "checkers.reductions"),
    **dict.fromkeys(("CaseSplit", "ForSizes", "IndependentSecondMoment", "IndexedDerivative", "Lemma",
                     "MomentExpectation", "Recursion", "RecursionInduction", "Termwise", "TermwiseNonnegative",
                     "intervals", "le_total", "nonnegative_by_convexity", "nonnegative_termwise",
                     "normalised_linearity", "product", "proved", "trichotomy"), "checkers.strategies"),
    **dict.fromkeys(("SymbolicStatus", "explicit_entries", "facts", "for_dimensions", "identity", "not_attempted"),
                    "checkers.symbolic"),
    "Tolerance": "checkers.tolerances",
    **dict.fromkeys(("FromTorchSource", "read_default_init"), "checkers.torch_source"),
    "verify": "checkers.verify",
}

# What a proof module may import (the authoring surface), then the entry points and the exceptions.
__all__ = sorted({*_LAZY, "ProofcheckError", "StudentInputError", "UsageError"})


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'checkers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
