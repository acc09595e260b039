"""Balanced brace groups in LaTeX source text, found without parsing it (check-steps and review cut lines with it)."""

from __future__ import annotations


def skip_group(text: str, start: int) -> int:
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
