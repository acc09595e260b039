"""proofcheck's public API: the data model a proof module uses, and the entry points to check and grade.

Names are imported on first use (PEP 562), so `import checkers` and commands that only print (such as
`proofcheck grade --list` and `--help`) do not pay for importing torch and sympy.
"""

from __future__ import annotations

import importlib

from checkers.errors import ProofcheckError, StudentInputError, UsageError

_LAZY = {
    "grade": "checkers.grading",
    **dict.fromkeys(("SPD", "DensityOnGrid", "Integer", "Invertible", "Matrix", "Positive", "ProbabilityVector", "Real",
                     "Variable", "Vector", "density_grid"), "checkers.kinds"),
    **dict.fromkeys(("Answer", "Claim", "Derivation", "Estimate", "Figure", "Mutant", "Part", "Reference", "Sample",
                     "Step"), "checkers.model"),
    **dict.fromkeys(("SymbolicStatus", "explicit_entries", "facts", "for_dimensions", "identity", "not_attempted"),
                    "checkers.symbolic"),
    "Tolerance": "checkers.tolerances",
    "verify": "checkers.verify",
}

__all__ = [
    "SPD", "Answer", "Claim", "DensityOnGrid", "Derivation", "Estimate", "Figure", "Integer", "Invertible", "Matrix", "Mutant", "Part", "Positive",
    "ProbabilityVector", "ProofcheckError", "Real", "Reference", "Sample", "Step", "StudentInputError", "SymbolicStatus",
    "Tolerance",
    "UsageError", "Variable", "Vector", "density_grid", "explicit_entries", "facts", "for_dimensions", "grade",
    "identity", "not_attempted", "verify",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'checkers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
