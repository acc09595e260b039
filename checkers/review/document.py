r"""Reading a submission (.tex or Markdown with $/$$ math): its problems and parts, and every math display, by line.

Nothing here executes or expands the student's text: `\input{...}`, `\include`, `\write18` and every
other command are characters like any other. Bytes that are not UTF-8 are read as U+FFFD (and
counted); a file over `MAX_BYTES` is refused before it is read whole. Every scan is linear in the
size of the file (no backtracking regular expression runs over more than one line), so a hostile
file costs time in proportion to its size only.

A *display* is one piece of math: `$$...$$`, `\[...\]`, an `equation`/`align`/`gather`/`multline`
environment (starred or not), or inline `$...$` that states something (holds a top-level `=`).
Its *rows* are the pieces between top-level `\\` (the lines of an `align`), each with the
1-based line of the file where it ends. Code blocks (``` fences, `verbatim`, `lstlisting`) hold no math.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from checkers.errors import UsageError

MAX_BYTES = 16 * 2 ** 20  # a submission larger than this is refused before it is read

_ENVIRONMENTS = ("equation", "align", "aligned", "gather", "gathered", "multline", "eqnarray", "split", "flalign",
                 "displaymath", "math")
_BEGIN = re.compile(r"\\begin\{(" + "|".join(_ENVIRONMENTS) + r")\*?\}")
_TRAILING_ENVIRONMENT = re.compile(r"\\(?:begin|end)\{(?:aligned|align|split|gathered|gather|alignedat|multline|"
                                   r"equation|eqnarray)\*?\}$")
_ENVIRONMENT_ONLY = re.compile(r"\\(?:begin|end)\{[A-Za-z]+\*?\}")
_ONE_COLUMN_ARRAY = re.compile(r"\s*\\begin\{array\}\{[lcr]\}")
_SPECIAL = re.compile(r"[`$\\%]")
_CODE_BEGIN = re.compile(r"\\begin\{(verbatim|lstlisting|minted|Verbatim)\*?\}")
_HEADING_COMMAND = re.compile(r"^\s*\\(?:section|subsection|subsubsection|paragraph|textbf|item)\*?\s*"
                              r"(?:\[[^\]]{0,40}\])?\s*\{?")
_PROBLEM = re.compile(r"^[\s#>*_\-]*(?:\d+(?:\.\d+)*\s+)?(?:problem|exercise|question|aufgabe)\s*#?\s*(\d{1,3})\b",
                      re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\s*(?:#+\s*|\*\*)?(\d{1,2})[.)](?:\*\*)?(?:\s|$)")
_PART = re.compile(r"^[\s#>*_\-]*(?:\\item\s*\[)?(?:part\s*)?\(([a-h])\)", re.IGNORECASE)
_PART_LETTER = re.compile(r"^[\s#>*_\-]*(?:part\s+)?([a-h])\)\s", re.IGNORECASE)


@dataclass(frozen=True)
class Row:
    """One line of a display: its text (alignment marks kept) and the 1-based line of the file where it ends."""

    line: int
    text: str


@dataclass
class Display:
    """One piece of math: where it starts and ends (1-based lines), its rows, and how it was written."""

    first_line: int
    last_line: int
    rows: list[Row]
    inline: bool = False


@dataclass(frozen=True)
class Section:
    """A problem (as the submission numbers it) or a part of one, from `first_line` to `last_line`."""

    problem: int | None
    part: str | None
    first_line: int
    last_line: int
    heading: str


@dataclass
class Submission:
    """A submission as read: its lines, problems and parts, displays, and what could not be read."""

    path: str
    lines: list[str]
    sections: list[Section]
    displays: list[Display]
    replaced_bytes: int = 0
    notes: list[str] = field(default_factory=list)

    def section_at(self, line: int) -> Section | None:
        found = None
        for s in self.sections:
            if s.first_line <= line <= s.last_line:
                found = s
        return found


def read_text(path: Path) -> tuple[str, int]:
    """The file's text (undecodable bytes as U+FFFD) and how many were replaced; UsageError if too large or absent."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UsageError(f"cannot read the submission {str(path)!r}: {exc.strerror}") from None
    if not path.is_file():
        raise UsageError(f"the submission {str(path)!r} is not a file")
    if size > MAX_BYTES:
        raise UsageError(f"the submission {str(path)!r} is {size:,} bytes; the limit is {MAX_BYTES:,} bytes")
    data = path.read_bytes()[:MAX_BYTES + 1]
    text = data.decode("utf-8", errors="replace")
    replaced = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    return text.replace("\x00", "\ufffd"), replaced


def _heading(line: str, tex: bool) -> tuple[int | None, str | None, bool]:
    """(problem number, part letter, whether it is a bare "3." numbering) that this line opens, if any."""
    plain = _HEADING_COMMAND.sub("", line, count=1) if tex else line
    if len(plain) > 400:
        plain = plain[:400]
    m = _PROBLEM.match(plain)
    if m:
        rest = plain[m.end():]
        part = re.match(r"\s*\(?([a-h])\)", rest)
        return int(m.group(1)), part.group(1).lower() if part else None, False
    m = _PART.match(plain) or _PART_LETTER.match(plain)
    if m:
        return None, m.group(1).lower(), False
    m = _BARE_NUMBER.match(plain)
    if m:
        return int(m.group(1)), None, True
    return None, None, False


def find_sections(lines: list[str], tex: bool, math_lines: set[int]) -> list[Section]:
    """Problems and parts, numbered as the submission numbers them; bare "3." counts only where no line says
    "Problem N". Lines inside math or code are never headings."""
    found: list[tuple[int, int | None, str | None, bool, str]] = []
    for number, line in enumerate(lines, start=1):
        if number in math_lines:
            continue
        problem, part, bare = _heading(line, tex)
        if problem is not None or part is not None:
            found.append((number, problem, part, bare, line.strip()[:120]))
    if any(problem is not None and not bare for _, problem, _, bare, _ in found):
        found = [f for f in found if not f[3]]
    sections: list[Section] = []
    current: int | None = None
    for i, (number, problem, part, _, heading) in enumerate(found):
        if problem is not None:
            if problem == current and part is None:
                continue  # the heading repeated ("1.6 Problem 5." then "Problem 5."): the same problem goes on
            current = problem
        end = found[i + 1][0] - 1 if i + 1 < len(found) else len(lines)
        sections.append(Section(current, part, number, end, heading))
    # A repeated heading was skipped: stretch each section to the start of the next one kept.
    stretched = []
    for i, s in enumerate(sections):
        end = sections[i + 1].first_line - 1 if i + 1 < len(sections) else len(lines)
        stretched.append(Section(s.problem, s.part, s.first_line, end, s.heading))
    return stretched


def _line_of(starts: list[int], offset: int) -> int:
    """1-based line holding character `offset` (binary search over line starts)."""
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


def _strip_trailing_environments(text: str) -> str:
    """The row without the `\\end{aligned}` (and the like) after its formula: the row ends where its formula does."""
    while True:
        text = text.rstrip()
        m = _TRAILING_ENVIRONMENT.search(text[-30:])
        if not m:
            return text
        text = text[:len(text) - (len(text[-30:]) - m.start())]


def split_rows(body: str, start: int, starts: list[int]) -> list[Row]:
    r"""The rows of a display body (split at `\\` outside braces and matrix environments), each with its end line."""
    m = _ONE_COLUMN_ARRAY.match(body)
    if m:  # \begin{array}{l} ... \end{array} holding a whole derivation: its rows are the display's rows
        end = body.rfind("\\end{array}")
        body = " " * m.end() + body[m.end():end if end > m.end() else len(body)]
    rows, depth, matrix, begin, i = [], 0, 0, 0, 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch == "\\":
            if body.startswith("\\\\", i) and depth == 0 and matrix == 0:
                rows.append((begin, i))
                i += 2
                begin = i
                continue
            if body.startswith("\\begin{", i) and "matrix" in body[i:i + 20].split("}")[0]:
                matrix += 1
            elif body.startswith("\\end{", i) and "matrix" in body[i:i + 20].split("}")[0]:
                matrix = max(0, matrix - 1)
            elif body.startswith("\\begin{cases}", i) or body.startswith("\\begin{array}", i):
                matrix += 1
            elif body.startswith("\\end{cases}", i) or body.startswith("\\end{array}", i):
                matrix = max(0, matrix - 1)
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        i += 1
    rows.append((begin, n))
    out = []
    for a, b in rows:
        text = body[a:b]
        text = _strip_trailing_environments(text)
        if not text.strip() or not _ENVIRONMENT_ONLY.sub("", text).strip():
            continue
        end_offset = start + a + len(text.rstrip())
        out.append(Row(_line_of(starts, max(start + a, end_offset - 1)), text.strip()))
    return out


def _has_top_level_equals(text: str) -> bool:
    depth = 0
    for ch in text:
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif ch == "=" and depth <= 0:
            return True
    return False


class _DisplayScanner:
    """One linear pass over a submission's text: the displays in order, the lines that hold math, the lines of code.

    The scan jumps from one special character (`` ` `` `$` `\\` `%`) to the next; each has its step, which
    returns where the scan goes on (None: the character opened nothing, the scan moves one character on).
    """

    def __init__(self, text: str, starts: list[int], tex: bool):
        self.text, self.starts, self.tex = text, starts, tex
        self.displays: list[Display] = []
        self.math_lines: set[int] = set()
        self.code_lines: set[int] = set()

    def scan(self) -> tuple[list[Display], set[int], set[int]]:
        steps = {"`": self.code_fence, "%": self.comment, "\\": self.command, "$": self.dollars}
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            special = _SPECIAL.search(text, i)  # skip plain text in one step
            if special is None:
                break
            i = special.start()
            after = steps[text[i]](i)
            i = i + 1 if after is None else after
        return self.displays, self.math_lines, self.code_lines

    def add(self, body_start: int, body_end: int, inline: bool = False) -> None:
        """The math between two offsets: a display if it has rows (inline math only if it states an equation)."""
        first, last = _line_of(self.starts, body_start), _line_of(self.starts, max(body_start, body_end - 1))
        rows = split_rows(self.text[body_start:body_end], body_start, self.starts)
        if rows and not (inline and not any(_has_top_level_equals(r.text) for r in rows)):
            self.displays.append(Display(first, last, rows, inline))
        self.math_lines.update(range(first + (1 if inline else 0), last + 1))

    def closing(self, delimiter: str, start: int) -> int:
        """Where `delimiter` next occurs from `start` (the end of the text if it never does)."""
        end = self.text.find(delimiter, start)
        return len(self.text) if end < 0 else end

    def code_fence(self, i: int) -> int | None:
        """A Markdown ``` fence at the start of a line: code up to the closing fence."""
        text, n = self.text, len(self.text)
        if not (text.startswith("```", i) and (i == 0 or text[i - 1] == "\n")):
            return None
        end = text.find("\n```", i + 3)
        end = n if end < 0 else end + 4
        self.code_lines.update(range(_line_of(self.starts, i), _line_of(self.starts, min(end, n - 1)) + 1))
        return end

    def comment(self, i: int) -> int | None:
        """In LaTeX, an unescaped % comments out the rest of the line."""
        if not (self.tex and (i == 0 or self.text[i - 1] != "\\")):
            return None
        end = self.text.find("\n", i)
        return len(self.text) if end < 0 else end

    def command(self, i: int) -> int:
        r"""`\[...\]`, `\(...\)`, a math environment, a code environment; any other command is skipped."""
        text = self.text
        if text.startswith("\\[", i):
            end = self.closing("\\]", i + 2)
            self.add(i + 2, end)
            return end + 2
        if text.startswith("\\(", i):
            end = self.closing("\\)", i + 2)
            self.add(i + 2, end, inline=True)
            return end + 2
        if text.startswith("\\begin{", i):
            m = _BEGIN.match(text, i)
            if m:
                close = f"\\end{{{m.group(1)}"
                end = self.closing(close, m.end())
                self.add(m.end(), end)
                stop = text.find("}", end + len(close))
                return len(text) if stop < 0 else stop + 1
            m = _CODE_BEGIN.match(text, i)
            if m:
                end = self.closing(f"\\end{{{m.group(1)}", m.end())
                self.code_lines.update(range(_line_of(self.starts, i), _line_of(self.starts, end) + 1))
                return end + 5
        return i + 2

    def dollars(self, i: int) -> int | None:
        """`$$...$$`, or inline `$...$` closed on the same line."""
        text, n = self.text, len(self.text)
        if text.startswith("$$", i):
            end = self.closing("$$", i + 2)
            self.add(i + 2, end)
            i = end + 2
            while i < n and text[i] == "$":  # an OCR's "$$$$$$" closes once
                i += 1
            return i
        end = i + 1
        while end < n and text[end] != "$" and text[end] != "\n":
            end += 2 if text[end] == "\\" else 1
        if end < n and text[end] == "$":
            self.add(i + 1, end, inline=True)
            return end + 1
        return None


def find_displays(text: str, starts: list[int], tex: bool = False) -> tuple[list[Display], set[int], set[int]]:
    """Every display in order, the lines that hold math, and the lines inside code blocks (in LaTeX, `%` starts a
    comment; in Markdown it is a percent sign)."""
    return _DisplayScanner(text, starts, tex).scan()


def read_submission(path: str | Path) -> Submission:
    """The submission at `path`, read into sections and displays (UsageError if it cannot be read at all)."""
    path = Path(path)
    text, replaced = read_text(path)
    return parse_submission(text, str(path), tex=path.suffix.lower() in (".tex", ".ltx"), replaced=replaced)


def parse_submission(text: str, name: str = "<text>", *, tex: bool = False, replaced: int = 0) -> Submission:
    """A submission from its text; `tex` selects LaTeX headings (\\section*{Problem 3}) besides Markdown's."""
    lines = text.split("\n")
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    tex = tex or "\\documentclass" in text[:20000] or "\\section" in text
    displays, math_lines, code_lines = find_displays(text, starts, tex)
    sections = find_sections(lines, tex, math_lines | code_lines)
    notes = []
    if replaced:
        notes.append(f"{replaced} byte(s) of the file are not UTF-8; they are shown as \ufffd")
    return Submission(name, lines, sections, displays, replaced, notes)
