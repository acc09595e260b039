"""What a student is told when their text cannot be read or graded: one wording for each way it can fail.

The grader, the server's parse preview and each line of `check-steps` all turn the same exceptions
into messages with this one function, so that a student sees the same words for the same trouble
wherever they typed the formula; `stop_message` words, the same way, a grading worker that was stopped
(checkers.grading.isolation reports it as a `Stopped` value and words nothing itself). `doing` names the work in the gerund ("grading this answer",
"reading this line"); an exception that is not the student's doing is marked internal, and its
message says it is a bug in proofcheck, never the student's mistake.
"""

from __future__ import annotations

from checkers.errors import StudentInputError, SymbolicTimeout, UnsupportedExpression
from checkers.grading.equivalence import Undefined

__all__ = ["failure_cause", "failure_message", "stop_cause", "stop_message"]


def failure_message(exc: BaseException, doing: str, limit: float) -> tuple[str, bool]:
    """(message for the student, whether it is an internal error) for `exc`, raised while `doing` under `limit` s."""
    if isinstance(exc, (StudentInputError, UnsupportedExpression)):
        return str(exc), False
    if isinstance(exc, Undefined):
        return f"undefined on an instance: {exc.why}", False
    if isinstance(exc, (SymbolicTimeout, TimeoutError)):
        return f"{doing} ran past the time limit of {limit:g} s; write it in a simpler form", False
    if isinstance(exc, RecursionError):
        return f"{doing} stopped: it is nested too deeply; write it with fewer nested brackets", False
    if isinstance(exc, MemoryError):
        return f"{doing} ran out of memory; write it in a simpler form", False
    return (f"internal error while {doing} (a bug in proofcheck, not in what you wrote; please report it): "
            f"{type(exc).__name__}: {str(exc)[:200]}"), True


def stop_message(stopped, doing: str) -> str:
    """The message for work a grading worker did not finish (a checkers.grading.isolation.Stopped), `doing` in the
    gerund as for `failure_message`."""
    if stopped.reason == "time-limit":
        return f"{doing} ran past the time limit of {stopped.limit:g} s and was stopped"
    if stopped.reason == "crashed":
        return (f"{doing} crashed the grading process ({stopped.how}, e.g. the memory limit); the other answers are "
                f"unaffected")
    return f"{doing} was cancelled before it finished"


def failure_cause(exc: BaseException) -> str:
    """What made an answer invalid, the same for every answer that failed the same way (the class analysis groups
    invalid answers by it): the grader's statement that refused the text (module and line), or the limit it hit."""
    if isinstance(exc, (StudentInputError, UnsupportedExpression, Undefined)):
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is None:
            return type(exc).__name__
        return f"{tb.tb_frame.f_globals.get('__name__', '?')}:{tb.tb_lineno}"
    if isinstance(exc, (SymbolicTimeout, TimeoutError)):
        return "time limit"
    if isinstance(exc, RecursionError):
        return "nesting limit"
    if isinstance(exc, MemoryError):
        return "memory limit"
    return "internal error"


def stop_cause(stopped) -> str:
    """The cause (see `failure_cause`) of work a grading worker did not finish."""
    return {"time-limit": "time limit", "crashed": "worker crashed"}.get(stopped.reason, "cancelled")
