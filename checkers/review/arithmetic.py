r"""Exact arithmetic on numbers as students write them (105415200 + 55 \cdot 55 \cdot 96 = ...), with Fractions.

A small recursive-descent reader over a whitelist of tokens: integers and decimals (thousands separators
`{,}` and `\,` allowed), `+ - \cdot \times * / \div ^`, parentheses and `\frac{a}{b}`. Anything else
(a letter, `\dots`) means the formula is not arithmetic, and the link is left to the grader's reader.
Literals have at most 40 digits, exponents are integers of at most 4 digits, and every intermediate
result at most 2,000 digits, so no input makes this slow or large. Nothing is evaluated by Python.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_LITERAL_DIGITS = 40
MAX_RESULT_DIGITS = 2000
_TOKEN = re.compile(r"\s*(?:(\d+(?:\{,\}\d{3})*(?:\.\d+)?)|(\\frac|\\dfrac|\\tfrac|\\cdot|\\times|\\div|\\left|\\right)"
                    r"|([-+*/^(){}\[\]]))")


class NotArithmetic(Exception):
    """The text is not a formula of numbers only (or is one beyond the size limits)."""


def _tokens(text: str) -> list[str]:
    text = text.replace("\\,", "").replace("\\!", "").replace("\\ ", " ").strip()
    out, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        m = _TOKEN.match(text, i)
        if not m:
            raise NotArithmetic(f"not a number or operator at {text[i:i + 10]!r}")
        token = m.group(1) or m.group(2) or m.group(3)
        if token in ("\\left", "\\right"):
            i = m.end()
            continue
        out.append(token)
        i = m.end()
    if not out:
        raise NotArithmetic("empty")
    return out


class _Reader:
    def __init__(self, tokens: list[str]):
        self.tokens, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise NotArithmetic(f"expected {expected or 'more'}")
        self.i += 1
        return token

    def expression(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = _bounded(value + self.term() if self.take() == "+" else value - self.term())
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times"):
                self.take()
                value = _bounded(value * self.unary())
            elif token in ("/", "\\div"):
                self.take()
                divisor = self.unary()
                if divisor == 0:
                    raise NotArithmetic("division by zero")
                value = _bounded(value / divisor)
            elif token in ("(", "\\frac", "\\dfrac", "\\tfrac") or (token and token[0].isdigit()):
                value = _bounded(value * self.unary())  # juxtaposition: 2(3 + 4)
            else:
                return value

    def unary(self) -> Fraction:
        if self.peek() in ("-", "+"):
            return -self.unary() if self.take() == "-" else self.unary()
        return self.power()

    def power(self) -> Fraction:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.atom()
            if exponent.denominator != 1 or abs(exponent) > 9999:
                raise NotArithmetic("exponent too large or not an integer")
            if base == 0 and exponent < 0:
                raise NotArithmetic("division by zero")
            digits = max(len(str(abs(base.numerator))), len(str(base.denominator)))
            if digits * abs(exponent) > MAX_RESULT_DIGITS:
                raise NotArithmetic("the number is too large to check exactly")
            return base ** int(exponent)
        return base

    def atom(self) -> Fraction:
        token = self.take()
        if token in ("(", "{", "["):
            value = self.expression()
            self.take({"(": ")", "{": "}", "[": "]"}[token])
            return value
        if token in ("\\frac", "\\dfrac", "\\tfrac"):
            numerator = self.atom()
            denominator = self.atom()
            if denominator == 0:
                raise NotArithmetic("division by zero")
            return _bounded(numerator / denominator)
        if token[0].isdigit():
            digits = token.replace("{,}", "")
            if len(digits.replace(".", "")) > MAX_LITERAL_DIGITS:
                raise NotArithmetic("a literal with too many digits")
            return Fraction(digits)
        raise NotArithmetic(f"unexpected {token!r}")


def _bounded(value: Fraction) -> Fraction:
    if len(str(abs(value.numerator))) > MAX_RESULT_DIGITS or len(str(value.denominator)) > MAX_RESULT_DIGITS:
        raise NotArithmetic("the number is too large to check exactly")
    return value


def value_of(text: str) -> Fraction:
    """The exact value of an arithmetic formula; NotArithmetic if it is not one (or is too large)."""
    reader = _Reader(_tokens(text))
    value = reader.expression()
    if reader.peek() is not None:
        raise NotArithmetic(f"unexpected {reader.peek()!r}")
    return value


def show(value: Fraction) -> str:
    """A value as a student would write it: an integer, a fraction, and a decimal where it helps."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator} (≈ {float(value):.6g})"
