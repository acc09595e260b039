"""The one exception hierarchy of proofcheck: every error a user can act on derives from ProofcheckError."""

from __future__ import annotations


class ProofcheckError(Exception):
    """Root of every error proofcheck raises on purpose.

    Catch this to handle all of proofcheck's own errors; anything else escaping is an internal bug
    and should be reported with the command that triggered it.
    """


class UsageError(ProofcheckError, ValueError):
    """A command-line argument or API argument is wrong (unknown id, unknown dtype, bad option).

    Fix: the message names the bad value and lists the valid ones; run `proofcheck list` for ids.
    """


class DeviceUnavailable(UsageError):
    """A device was requested that this machine does not have (e.g. `--device cuda` without a GPU).

    Fix: use `--device auto` (every device present) or `--device cpu`.
    """


class UnsupportedExpression(ProofcheckError, TypeError):
    """The numeric evaluator met a sympy construct it does not translate to torch.

    Fix: rewrite the expression with supported operations, or give the claim its own `numeric`
    function. The message names the construct.
    """


class SymbolicTimeout(ProofcheckError, TimeoutError):
    """A sympy computation ran past its time limit.

    It is recorded as a failed symbolic check, never as a proof. Fix: give the claim a cheaper
    strategy (explicit small dimensions) or raise its time limit next to the claim, with a reason.
    """


class StudentInputError(ProofcheckError, ValueError):
    """A student's answer could not be understood (syntax, unknown symbol, shapes that do not fit).

    This is the student's `invalid` verdict, never an internal error: the message says what to fix.
    """


class InternalError(ProofcheckError, RuntimeError):
    """proofcheck itself misbehaved (a bug, not bad input).

    Please report it with the command line and the seed printed next to it.
    """


class ReportError(ProofcheckError, RuntimeError):
    """A solution report could not be built: latexmk/pdflatex is missing, or LaTeX rejected a document.

    Fix: install the TeX packages the message names (Debian/Ubuntu: texlive-latex-recommended latexmk
    lmodern), or build only HTML with `proofcheck report --format html`. When LaTeX itself failed,
    the message quotes the log; that is a bug in the report templates, please report it.
    """


class DeclarationError(ProofcheckError, ValueError):
    """A proof module declares something that cannot be read: e.g. a derivation whose `source` does not cite
    problems as "<set id> P<number>[(<letter>)]", comma-separated.

    The message names the derivation and repeats what it declared. Fix the declaration in the proof module
    (`source="hw6-2021 P4(b), student-hw6 P5(b)"`: each set once, each followed by the problem it answers).
    """


class TorchSourceChanged(ProofcheckError):
    """The installed torch's source no longer has the shape a proof reads (e.g. nn.Linear's default init).

    It is recorded as a failed symbolic check naming what changed. Fix: read the new source and update
    the derivation (and `checkers/torch_source.py` if the reader must learn a new form).
    """


class AuthoringWarning(UserWarning):
    """A declaration in a proof module that is legal but almost certainly not what its author meant.

    Cause: e.g. a step of a claim's chain identical to the expression before it (a link that proves
    nothing). Fix: remove the repeated step, or write the expression the justification describes.
    """
