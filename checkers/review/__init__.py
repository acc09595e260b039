r"""`proofcheck review`: a whole submission read as a TA reads it — every answer found and graded, every line checked.

    >>> from checkers.review import review
    >>> doc = review("hw6.tex", "hw6-2021")
    >>> doc["answers"][0]["verdict"], doc["lines"][0]["verdict"]

The package reads the submission (`document`), cuts its math into chains of links (`chains`), checks
arithmetic exactly (`arithmetic`), finds each gradeable problem's answer (`locate`), compares and grades
with the grader's workers (`checking`, jobs in `tasks`), writes the HTML page (`render`), typesets a .tex
submission safely (`pdf`) and adds the subcommand (`cli`).
"""

from __future__ import annotations

__all__ = ["Reading", "review"]


def __getattr__(name: str):
    if name in __all__:  # imported on first use: reviewing needs the grader, sympy and torch
        from checkers.review import checking as module

        return getattr(module, name)
    raise AttributeError(f"module 'checkers.review' has no attribute {name!r}")
