r"""Finding the student's answer to each gradeable problem: a \boxed{} formula, else the last link of a chain that
states the asked quantity, else the last line of the problem's last derivation.

Where one problem of the set has several gradeable problems (hw6-2021 P1: the folded weight and the
folded bias), a candidate formula goes to the problem whose id and title share the most words with the
quantity its chain states (`W' =` states a weight, `\operatorname{Var}(y_L) =` a variance,
`D_{\mathrm{KL}} =` a KL divergence); a candidate that states nothing the problems name goes to the
problem it agrees with (graded correct against it); what is left goes, in order, to the problems
still without an answer. `found_by` says which rule found each answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from checkers.review.chains import Chain, Link

FOUND_BY_BOXED = "boxed"
FOUND_BY_STATED = "stated quantity"
FOUND_BY_LAST = "last line"
FOUND_BY_READING = "reading"

# Generic notation -> the words a problem's id or title uses for it (no problem of any course is named here).
_NOTATION_WORDS = {
    "var": {"variance"}, "cov": {"covariance"}, "kl": {"kl", "divergence"},
    "dkl": {"kl", "divergence"}, "partial": {"gradient", "derivative"}, "nabla": {"gradient"},
    "w": {"weight"}, "b": {"bias"}, "p": {"density", "probability"}, "f": {"density"}, "e": {"expectation"},
    "tv": {"tv", "variation"}, "i": {"information"}, "h": {"entropy"},
    "lse": {"lse", "logsumexp"}, "softmax": {"softmax"}, "y": {"output"}, "l": {"loss"},
}
_MARKUP = {"mathrm", "operatorname", "mathbb", "mathcal", "mathbf", "text", "frac", "dfrac", "left", "right", "partial",
           "sum", "prod", "log", "exp"}
_NAME_LIKE = re.compile(
    r"^(?:\\(?:operatorname|mathrm|mathbb|mathcal|mathbf|text)\{[A-Za-z]{1,12}\}|\\[A-Za-z]+|[A-Za-z]{2,5}(?=[(\[])|"
    r"[A-Za-z])")


def _without_groups(text: str) -> str:
    """The text with every bracketed group, sub/superscript and prime removed (what names the object)."""
    out, depth, i = [], 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in "_^":
            m = re.match(r"\s*(\\[A-Za-z]+|[^{\s])", text[i + 1:])
            if m:  # a one-token script (x_k, \nu_\beta); a braced one is a group
                i += 1 + m.end()
                continue
        elif depth == 0 and ch not in "' ":
            out.append(ch)
        i += 1
    return "".join(out)


def name_like(text: str) -> bool:
    r"""Whether a formula only names a quantity (p_X(x), D_{\mathrm{KL}}, W', \operatorname{Var}(y_L),
    \frac{\partial y}{\partial x}) rather than computing one."""
    text = text.replace("\\left", "").replace("\\right", "").strip()
    if not text or len(text) > 120:
        return False
    if re.match(r"^\\d?frac\{\s*(?:\\partial|d)\b", text) or text.startswith(("\\nabla", "\\partial")):
        return True
    m = _NAME_LIKE.match(text)
    if not m:
        return False
    rest = _without_groups(text[m.end():])
    head = _without_groups(text[:m.end()]) if not m.group().startswith("\\") else ""
    return not rest.strip() and len(head) <= 5


def decorated(text: str) -> bool:
    r"""Whether a name carries a mark the grader reads past (W', b^*, \hat{y}, \tilde W): then it names a new
    quantity, and `W' = ...` is a label even though `W'` reads as W."""
    return "'" in text or "^*" in text or "^{*}" in text or bool(re.match(r"\\(?:hat|tilde|bar|widehat|widetilde)\b",
                                                                             text.strip()))


def words_of_label(text: str) -> set[str]:
    """The words a stated quantity stands for (D_{KL} -> kl, divergence; Var(y_L) -> variance, output)."""
    raw = re.findall(r"\\?[A-Za-z]+", text)
    words: set[str] = set()
    letters = "".join(w for w in raw if not w.startswith("\\")).lower()
    for w in raw:
        key = w.lstrip("\\").lower()
        words |= _NOTATION_WORDS.get(key, set())
        if len(key) > 2 and key not in _MARKUP:
            words.add(key)
    if "kl" in letters:
        words |= _NOTATION_WORDS["kl"]
    return words


def problem_words(problem) -> set[str]:
    words = set(re.findall(r"[a-z]+", f"{problem.id} {problem.title}".lower()))
    return words | {w[:-1] for w in words if w.endswith("s")}


@dataclass
class Candidate:
    """A formula that may be the answer to a problem: the link, the rule that proposes it, the label it states."""

    link: Link
    found_by: str
    label: str | None
    section: int | None


def candidates(chains: list[Chain], labels: set[int]) -> list[Candidate]:
    """Answer candidates of the chains of one problem of the submission, part by part (`section`): in each
    part, its boxed formulas, else the last links of its chains with a label, else its last link."""
    out: list[Candidate] = []
    for section in dict.fromkeys(chain.section for chain in chains):
        out += _part_candidates([c for c in chains if c.section == section], labels)
    return out


def _part_candidates(chains: list[Chain], labels: set[int]) -> list[Candidate]:
    boxed = [Candidate(link, FOUND_BY_BOXED, chain.links[0].text if id(chain.links[0]) in labels else None,
                       chain.section) for chain in chains for link in chain.links if link.boxed
             and id(link) not in labels]
    if boxed:
        return boxed
    stated = [Candidate(chain.links[-1], FOUND_BY_STATED, chain.links[0].text, chain.section)
              for chain in chains if len(chain.links) > 1 and id(chain.links[0]) in labels]
    if stated:
        return stated
    for chain in reversed(chains):
        if chain.links and id(chain.links[-1]) not in labels and not chain.links[-1].length:
            return [Candidate(chain.links[-1], FOUND_BY_LAST, None, chain.section)]
    return []


def assign(found: list[Candidate], problems: list, agrees: Callable[[str, str], bool]) -> dict[str, Candidate]:
    """Each problem's answer among the candidates: the last one that states its quantity, else one that agrees
    with it, else the next one left over, in order (`found_by` gains how the match was made)."""
    if not found:
        return {}
    if len(problems) == 1:
        for rule in (FOUND_BY_BOXED, FOUND_BY_STATED, FOUND_BY_LAST):
            best = [c for c in found if c.found_by == rule]
            if best:
                return {problems[0].id: best[-1]}
    answers: dict[str, Candidate] = {}
    left: list[Candidate] = []
    vocab = {p.id: problem_words(p) for p in problems}
    for candidate in found:
        scores = {}
        if candidate.label:
            words = words_of_label(candidate.label)
            scores = {pid: len(words & w) for pid, w in vocab.items()}
        best = max(scores.values(), default=0)
        winners = [pid for pid, s in scores.items() if s == best and best > 0]
        if len(winners) == 1:
            answers[winners[0]] = candidate  # a later statement of the same quantity replaces an earlier one
        else:
            left.append(candidate)
    for candidate in left:
        for p in problems:
            if p.id not in answers and agrees(p.id, candidate.link.text):
                answers[p.id] = Candidate(candidate.link, f"{candidate.found_by}, matched by agreement",
                                          candidate.label, candidate.section)
                break
        else:
            for p in problems:
                if p.id not in answers:
                    answers[p.id] = Candidate(candidate.link, f"{candidate.found_by}, matched by order",
                                              candidate.label, candidate.section)
                    break
    return answers
