r"""Checking a student's multi-line derivation (an align* body) line by line, then its last line against the reference.

Lines are separated by `\\`; each line's formula is what follows its last top-level `=` (so
`D_{KL} &= \frac12(...)` contributes `\frac12(...)`), and a line without `=` continues the previous
one. `\label`, `\tag`, `\nonumber`, `\notag` and `\text{...}` remarks are dropped before parsing.
Each line is compared numerically with the line before it on the problem's instances: a step is
valid when both formulas agree on every instance; `first_invalid` is the first line that does not
equal its predecessor (or cannot be read). The last line is then graded against the reference.
"""

from __future__ import annotations

import re
import time

from checkers.errors import ProofcheckError, StudentInputError, SymbolicTimeout, UnsupportedExpression
from checkers.grading.build import describe, is_matrix
from checkers.grading.catalog import get_problem
from checkers.grading.equivalence import Undefined, compare, evaluate_on
from checkers.grading.grader import DEFAULT_TIME_LIMIT, _brief, _where, counterexample, grade_in_process
from checkers.grading.instances import instances_for
from checkers.grading.parse import MAX_LENGTH, parse_answer
from checkers.limits import time_limit

MAX_LINES = 60
_ENVIRONMENT = re.compile(r"\\(begin|end)\{(align\*?|aligned|equation\*?|eqnarray\*?|gather\*?|split)\}")
_DROP_WITH_ARGUMENT = ("label", "tag", "text", "intertext", "textrm", "mbox", "hbox", "textit", "textbf")
_FUNCTION_WORDS = {"tr", "Tr", "det", "log", "ln", "exp", "trace"}


def _skip_group(text: str, start: int) -> int:
    """Index just past the balanced {...} group that starts at `start` (or `start` if there is none)."""
    i = start
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != "{":
        return start
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def _drop_remarks(line: str) -> str:
    r"""Remove \label{..}, \tag{..}, \text{by linearity} and friends; keep \text{tr} (a function name)."""
    out, i = [], 0
    while i < len(line):
        m = re.match(r"\\([A-Za-z]+)\*?", line[i:])
        if m and m.group(1) in ("nonumber", "notag", "qquad", "quad"):
            i += m.end()
            out.append(" ")
            continue
        if m and m.group(1) in _DROP_WITH_ARGUMENT:
            end = _skip_group(line, i + m.end())
            content = line[i + m.end():end].strip().strip("{}").strip()
            if m.group(1) in ("text", "textrm") and content in _FUNCTION_WORDS:
                out.append(line[i:end])
            else:
                out.append(" ")
            i = end
            continue
        out.append(line[i])
        i += 1
    return "".join(out)


def _split_top(text: str, sep: str) -> list[str]:
    """Split at `sep` outside braces, brackets and parentheses."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            if text.startswith(sep, i) and depth == 0 and sep.startswith("\\"):
                parts.append(text[start:i])
                i += len(sep)
                start = i
                continue
            i += 2
            continue
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def split_derivation(text: str) -> list[str]:
    """The formula of each derivation line, in order (continuation lines joined)."""
    text = _ENVIRONMENT.sub(" ", text)
    lines: list[str] = []
    for raw in _split_top(text, "\\\\"):
        # A break inside brackets (\left( ... \\ ... \right)) continues the same formula.
        raw = _drop_remarks(raw).replace("&", " ").replace("\\\\", " ").strip()
        if not raw:
            continue
        pieces = _split_top(raw, "=")
        if len(pieces) == 1 and lines:
            lines[-1] = f"{lines[-1]} {raw}"  # a continuation of the previous line's formula
            continue
        formula = pieces[-1].strip()
        lines.append(formula)
    if len(lines) > MAX_LINES:
        raise StudentInputError(f"the derivation has {len(lines)} lines; the limit is {MAX_LINES}")
    return lines


def check_steps_in_process(problem_id: str, text: str, *, limit: float = DEFAULT_TIME_LIMIT,
                           symbolic: bool = False) -> dict:
    """The JSON report of a derivation: steps, first_invalid, and the final line's grade."""
    problem = get_problem(problem_id)
    started = time.perf_counter()
    doc: dict = {"problem": problem.id, "lines": [], "steps": [], "first_invalid": None}
    try:
        if len(text) > MAX_LENGTH * 10:
            raise StudentInputError(f"the derivation is {len(text)} characters long; the limit is {MAX_LENGTH * 10}")
        lines = split_derivation(text)
    except StudentInputError as exc:
        doc.update(final={"verdict": "invalid", "message": str(exc)}, verdict="invalid")
        return doc
    if not lines:
        doc.update(final={"verdict": "invalid", "message": "the derivation has no lines"}, verdict="invalid")
        return doc
    instances = instances_for(problem)
    parsed: list[tuple | None] = []
    try:
        with time_limit(limit * len(lines), "checking this derivation"):
            for number, line in enumerate(lines, start=1):
                entry = {"line": number, "text": line}
                try:
                    expr = parse_answer(problem, line)
                    values = evaluate_on(instances.groups, expr)
                    parsed.append((expr, values))
                    entry["parsed"] = True
                except (StudentInputError, UnsupportedExpression) as exc:
                    parsed.append(None)
                    entry.update(parsed=False, message=str(exc))
                except Undefined as exc:
                    parsed.append(None)
                    entry.update(parsed=False, message=f"undefined on an instance: {exc.why}")
                doc["lines"].append(entry)
            previous = parsed[0]
            previous_number = 1
            for number in range(2, len(lines) + 1):
                current = parsed[number - 1]
                step = {"line": number}
                if current is None:
                    step.update(valid=False, message=f"line {number} cannot be read: {doc['lines'][number - 1]['message']}")
                elif previous is None:
                    step.update(valid=False, message=f"line {previous_number} cannot be read, so this step cannot be checked")
                elif is_matrix(current[0]) != is_matrix(previous[0]) or (
                        is_matrix(current[0]) and current[0].shape != previous[0].shape):
                    step.update(valid=False, message=f"line {number} is {describe(current[0])} but line "
                                                     f"{previous_number} is {describe(previous[0])}")
                else:
                    comparison = compare(current[0], current[1], previous[0], previous[1], instances)
                    if comparison.passed:
                        step.update(valid=True, message=f"equals line {previous_number} on {comparison.checked} "
                                                        f"random instances")
                    else:
                        gi = comparison.failing_groups()[0]
                        i = comparison.worst(gi)
                        from checkers.grading.equivalence import as_plain

                        cx = counterexample(instances, gi, i, as_plain(current[1][gi][i]), as_plain(previous[1][gi][i]))
                        cx["line"], cx["previous_line"] = cx.pop("student"), cx.pop("reference")
                        step.update(valid=False, counterexample=cx,
                                    message=f"line {number} does not equal line {previous_number}: at "
                                            f"{_where(instances, cx)} it gives {_brief(cx['line'])}, line "
                                            f"{previous_number} gives {_brief(cx['previous_line'])}")
                if not step["valid"] and doc["first_invalid"] is None:
                    doc["first_invalid"] = number
                doc["steps"].append(step)
                if current is not None:
                    previous, previous_number = current, number
    except SymbolicTimeout:
        doc.update(final={"verdict": "invalid", "message": f"checking ran past the time limit of "
                                                           f"{limit * len(lines):g} s"}, verdict="invalid")
        return doc
    except (ProofcheckError, RecursionError, MemoryError) as exc:
        doc.update(final={"verdict": "invalid", "message": str(exc)}, verdict="invalid")
        return doc
    remaining = max(0.5, limit - (time.perf_counter() - started))
    final = grade_in_process(problem, lines[-1], limit=min(limit, remaining), symbolic=symbolic, explain=False).to_json()
    final["line"] = len(lines)
    doc["final"] = final
    doc["verdict"] = final["verdict"]
    return doc
