r"""Derivation chains: each display row cut into links at its top-level relations, and rows joined into chains.

A chain is a run of formulas joined by `=` (on one line, or across the rows of an `align`, or across
consecutive displays whose next one starts with `=`); each link is later compared with the one
before it. `\Rightarrow`, `\implies`, `\therefore`, `\quad` and a top-level comma start a new chain;
`\ge`, `\le`, `<`, `>`, `\sim`, `\approx` and `\propto` are relations the review does not check
(their link is `unread`, with that reason). Remarks (`\text{by linearity}`, `\label`, `\tag`) are
dropped and `\boxed{X}` is read as X (and marked boxed). This module only cuts text; nothing is parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from checkers.latex_groups import skip_group
from checkers.review.document import Display, Submission

EQUALS = "="
MAX_ROW_CHARACTERS = 20000  # a longer row is not cut into links (it is reported as too long to read)
PROSE = "\u2062"  # stands where a remark in words (\text{depth}) was dropped, so that `\text{depth} = T + 1` keeps a left side
BOXED = "\u2063"  # marks where a \boxed{} stood, so that the link holding it is known after the row is cut
_UNCHECKED_RELATIONS = {"\\geq": "≥", "\\ge": "≥", "\\leq": "≤", "\\le": "≤", "\\neq": "≠", "\\ne": "≠",
                        "\\approx": "≈", "\\sim": "∼", "\\propto": "∝", "\\equiv": "≡", "\\to": "→", "<": "<",
                        ">": ">", "\\lt": "<", "\\gt": ">", "\\geqslant": "≥", "\\leqslant": "≤", "\\simeq": "≃"}
_BREAKS = ("\\Rightarrow", "\\implies", "\\therefore", "\\because", "\\iff", "\\Leftrightarrow", "\\quad", "\\qquad",
           "\\Longrightarrow", "\\rightarrow", "\\text{and}", "\\text{where}")
_DROP_WITH_ARGUMENT = ("label", "tag", "intertext", "mbox", "hbox", "textit", "textbf", "footnote", "eqref", "ref")
_TEXT_COMMANDS = ("text", "textrm", "mathrm", "operatorname")
_FUNCTION_WORDS = {"tr", "Tr", "det", "log", "ln", "exp", "trace", "Var", "Cov", "E", "KL", "diag", "ReLU", "max",
                   "min", "softmax", "sigmoid", "sign", "rank"}
_ALIGNMENTS = {"aligned", "align", "split", "gathered", "gather", "alignedat", "multline", "equation", "eqnarray"}
_DROP = ("\\nonumber", "\\notag", "\\displaystyle", "\\,", "\\;", "\\!", "\\:", "\\ ", "\\left.", "\\right.")


@dataclass
class Link:
    """One formula of a chain: its text, the relation that joins it to the link before (None for the first),
    the 1-based line of the file it is on, and whether it was written in \\boxed{}."""

    text: str
    relation: str | None
    line: int
    boxed: bool = False
    display: int = 0  # index of its display in the submission
    length: int = 0  # characters of the row it came from, when that row was too long to cut (then text is its start)
    prose: bool = False  # a left side written in words (\text{depth} =): a label by construction


@dataclass
class Chain:
    """Links joined by relations, in one section of the submission."""

    links: list[Link] = field(default_factory=list)
    section: int | None = None  # index into Submission.sections

    @property
    def label(self) -> Link | None:
        return self.links[0] if len(self.links) > 1 else None


def clean(text: str) -> tuple[str, bool]:
    r"""The row as a formula: remarks dropped, `&` and `\boxed` removed; and whether it held a \boxed{}."""
    out, i, boxed = [], 0, False
    n = len(text)
    while i < n:
        if text[i] == "\\":
            m = re.match(r"\\([A-Za-z]+)\*?", text[i:i + 40])
            if m:
                name = m.group(1)
                if name in _DROP_WITH_ARGUMENT:
                    i = skip_group(text, i + m.end())
                    out.append(" ")
                    continue
                if name in _TEXT_COMMANDS:
                    end = skip_group(text, i + m.end())
                    content = text[i + m.end():end].strip().strip("{}").strip()
                    if name in ("text", "textrm") and content not in _FUNCTION_WORDS:
                        out.append(" \\text{and} " if content in ("and", "where", "so", "hence", "thus") else PROSE)
                    else:
                        out.append(text[i:end])
                    i = end
                    continue
                if name in ("begin", "end"):
                    end = skip_group(text, i + m.end())
                    if text[i + m.end():end].strip().strip("{}").strip().rstrip("*") in _ALIGNMENTS:
                        out.append(" ")
                        i = end
                        continue
                if name == "boxed":
                    boxed = True
                    out.append(BOXED)
                    i += m.end()
                    continue  # the group that follows stays: {X} reads as X
            for token in _DROP:
                if text.startswith(token, i):
                    out.append(" ")
                    i += len(token)
                    break
            else:
                out.append(text[i:i + 2])
                i += 2
            continue
        out.append(" " if text[i] == "&" else text[i])
        i += 1
    return "".join(out).strip(" \t\n.,;"), boxed


def _split_top(text: str, separators) -> list[tuple[str | None, str]]:
    """(separator before it, piece) for each piece between top-level separators; a command separator must not be
    followed by a letter (\\le is not \\left)."""
    pieces: list[tuple[str | None, str]] = []
    depth, start, before, i = 0, 0, None, 0
    n = len(text)
    while i < n:
        ch = text[i]
        if depth == 0 and ch in _SEPARATOR_STARTS:
            hit = None
            for sep in separators:
                if text.startswith(sep, i) and not (sep[0] == "\\" and sep[-1].isalpha() and i + len(sep) < n
                                                      and text[i + len(sep)].isalpha()):
                    if hit is None or len(sep) > len(hit):
                        hit = sep
            if hit is not None:
                pieces.append((before, text[start:i]))
                before, i = hit, i + len(hit)
                start = i
                continue
        if ch == "\\":
            if text.startswith("\\left", i) or text.startswith("\\begin", i):
                depth += 1
            elif text.startswith("\\right", i) or text.startswith("\\end", i):
                depth = max(0, depth - 1)
            m = re.match(r"\\[A-Za-z]+", text[i:i + 30])
            i += m.end() if m else 2
            continue
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth = max(0, depth - 1)
        i += 1
    pieces.append((before, text[start:]))
    return pieces


_SEPARATOR_STARTS = frozenset("=\\<>,:")
_RELATIONS = ("=", ":=", "\\coloneqq", *_UNCHECKED_RELATIONS)


def segments(text: str) -> list[list[tuple[str | None, str]]]:
    """A cleaned row cut into segments (at implications and top-level commas), each a list of (relation, formula)."""
    out = []
    for _, segment in _split_top(text, (*_BREAKS, ",")):
        parts = [(rel, piece.strip()) for rel, piece in _split_top(segment, _RELATIONS)]
        parts = [(EQUALS if rel in (":=", "\\coloneqq") else rel, piece) for rel, piece in parts]
        if len(parts) == 1 and not parts[0][1]:
            continue
        out.append(parts)
    return out


def relation_symbol(relation: str | None) -> str:
    return _UNCHECKED_RELATIONS.get(relation or "", relation or "")


def build_chains(submission: Submission, displays: list[Display] | None = None) -> list[Chain]:
    """Every chain of the submission, in order. A row (or display) that starts with a relation continues the chain
    before it in the same section; any other formula starts a new chain."""
    chains: list[Chain] = []
    current: Chain | None = None
    index_of = {id(s): i for i, s in enumerate(submission.sections)}
    for d_index, display in enumerate(displays if displays is not None else submission.displays):
        section = submission.section_at(display.first_line)
        section_index = index_of.get(id(section)) if section is not None else None
        if current is not None and current.section != section_index:
            current = None
        for row in display.rows:
            if len(row.text) > MAX_ROW_CHARACTERS:  # not cut into links: one link, reported as too long to read
                current = Chain(section=section_index)
                chains.append(current)
                current.links.append(Link(row.text[:200], None, row.line, False, d_index, len(row.text)))
                current = None
                continue
            text, _ = clean(row.text)
            for s_index, parts in enumerate(segments(text)):
                first_text = parts[0][1].replace(BOXED, "")
                starts_with_relation = not first_text and len(parts) > 1
                if not (starts_with_relation and s_index == 0 and current is not None):
                    current = Chain(section=section_index)
                    chains.append(current)
                for index, (rel, piece) in enumerate(parts):
                    is_boxed = BOXED in piece
                    words_only = PROSE in piece and not piece.replace(PROSE, "").replace(BOXED, "").strip()
                    piece = piece.replace(BOXED, "").replace(PROSE, " ").strip()
                    if words_only and index == 0 and len(parts) > 1:
                        current.links.append(Link("\\text{…}", None, row.line, False, d_index, prose=True))
                        continue
                    if not piece:
                        continue
                    relation = rel if current.links else None
                    current.links.append(Link(piece, relation, row.line, is_boxed, d_index))
        if display.inline:
            current = None  # inline math in prose does not run on into the next display
    return [c for c in chains if c.links]
