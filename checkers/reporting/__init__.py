"""Solution reports: checked derivations rendered to LaTeX/PDF and self-contained offline HTML with MathML.

Entry points: `build_reports` (what `make reports` and `proofcheck report` run) and `cli.register`
(the `report` subcommand, registered by `checkers.cli`). The other modules are internal. Imports are
lazy so that registering the subcommand does not load torch, sympy or matplotlib.
"""

__all__ = ["BuildOptions", "BuildOutcome", "build_reports"]


def __getattr__(name):
    if name in __all__:
        from checkers.reporting import build

        return getattr(build, name)
    raise AttributeError(f"module 'checkers.reporting' has no attribute {name!r}")
