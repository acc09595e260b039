"""The one LaTeX-escaping filter: any Python string becomes LaTeX text that pdflatex typesets literally.

Every value a LaTeX template interpolates passes through `escape_latex` (the Jinja environment's
`finalize` hook applies it), except values already marked `Tex`: LaTeX that sympy's printer produced
from a checked expression, or an author's statement that `statements.sanitize_tex` accepted.

What the filter guarantees, for any input string:
* TeX's special characters (``\\ { } $ & # ^ _ ~ %``) and the characters that form ligatures or
  optional arguments in T1 fonts (``< > | " ' ` - [ ]``) print as themselves;
* non-ASCII characters that proof authors write in plain-text statements and justifications
  (Greek letters, ``− ≤ ≈ ‖ √ ∂ ∈ → ⊤``, superscripts ``⁻¹ ²``, subscripts ``₀``, ``ᵀ``) print as the
  corresponding math symbol; accented Latin letters are passed to pdflatex's UTF-8 input encoding;
* anything else prints as its code point, ``[U+1F600]``, never as an error;
* line breaks and tabs become spaces (templates split multi-line text into lines themselves).
The mapping is injective, so the original text can be read back from the output (the tests do).
"""

from __future__ import annotations

import unicodedata

__all__ = ["Tex", "escape_latex", "escape_unicode", "finalize"]


class Tex(str):
    """LaTeX source that is trusted as is: sympy's printer output, or a sanitized author statement."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Tex({str.__repr__(self)})"


# ASCII characters that are not themselves in the output.
_ASCII = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "'": r"\textquotesingle{}",
    "`": r"\textasciigrave{}",
    "-": "-{}",  # "--" would become an en dash
    "[": "{[}",  # "[" right after a macro would open an optional argument
    "]": "{]}",
    "\n": " ",
    "\r": " ",
    "\t": " ",
}

_GREEK = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon", "ϵ": r"\epsilon",
    "ζ": r"\zeta", "η": r"\eta", "θ": r"\theta", "ϑ": r"\vartheta", "ι": r"\iota", "κ": r"\kappa",
    "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu", "ξ": r"\xi", "ο": "o", "π": r"\pi", "ϖ": r"\varpi",
    "ρ": r"\rho", "ϱ": r"\varrho", "σ": r"\sigma", "ς": r"\varsigma", "τ": r"\tau", "υ": r"\upsilon",
    "φ": r"\varphi", "ϕ": r"\phi", "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega",
    "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda", "Ξ": r"\Xi", "Π": r"\Pi", "Σ": r"\Sigma",
    "Υ": r"\Upsilon", "Φ": r"\Phi", "Ψ": r"\Psi", "Ω": r"\Omega",
    "Α": r"\mathrm{A}", "Β": r"\mathrm{B}", "Ε": r"\mathrm{E}", "Ζ": r"\mathrm{Z}", "Η": r"\mathrm{H}",
    "Ι": r"\mathrm{I}", "Κ": r"\mathrm{K}", "Μ": r"\mathrm{M}", "Ν": r"\mathrm{N}", "Ο": r"\mathrm{O}",
    "Ρ": r"\mathrm{P}", "Τ": r"\mathrm{T}", "Χ": r"\mathrm{X}",
}

# Math symbols, typeset in math mode (\ensuremath works in text and in math).
_MATH = {
    "−": "-", "±": r"\pm", "∓": r"\mp", "×": r"\times", "÷": r"\div", "·": r"\cdotp", "⋅": r"\cdot",
    "∙": r"\bullet", "∘": r"\circ", "∗": r"\ast", "√": r"\surd", "∞": r"\infty", "∂": r"\partial",
    "∇": r"\nabla", "∑": r"\sum", "∏": r"\prod", "∫": r"\int", "∮": r"\oint", "≤": r"\le", "≥": r"\ge",
    "≠": r"\neq", "≈": r"\approx", "≡": r"\equiv", "∼": r"\sim", "≃": r"\simeq", "≅": r"\cong",
    "∝": r"\propto", "≪": r"\ll", "≫": r"\gg", "∈": r"\in", "∉": r"\notin", "∋": r"\ni", "⊂": r"\subset",
    "⊆": r"\subseteq", "⊃": r"\supset", "⊇": r"\supseteq", "∪": r"\cup", "∩": r"\cap", "∅": r"\emptyset",
    "∀": r"\forall", "∃": r"\exists", "¬": r"\neg", "∧": r"\wedge", "∨": r"\vee", "⇒": r"\Rightarrow",
    "⇐": r"\Leftarrow", "⇔": r"\Leftrightarrow", "→": r"\to", "←": r"\leftarrow", "↔": r"\leftrightarrow",
    "↦": r"\mapsto", "⟨": r"\langle", "⟩": r"\rangle", "‖": r"\|", "∣": r"\mid", "⊤": r"\top",
    "⊥": r"\perp", "⊗": r"\otimes", "⊕": r"\oplus", "⊙": r"\odot", "ℝ": r"\mathbb{R}", "ℕ": r"\mathbb{N}",
    "ℤ": r"\mathbb{Z}", "ℚ": r"\mathbb{Q}", "ℂ": r"\mathbb{C}", "𝔼": r"\mathbb{E}", "ℓ": r"\ell",
    "⋯": r"\cdots", "⌈": r"\lceil", "⌉": r"\rceil", "⌊": r"\lfloor", "⌋": r"\rfloor", "′": r"\prime",
    "″": r"\prime\prime", "½": r"\tfrac{1}{2}", "¼": r"\tfrac{1}{4}", "¾": r"\tfrac{3}{4}", "⅓": r"\tfrac{1}{3}",
    "✓": r"\checkmark", "∖": r"\setminus", "≺": r"\prec", "≻": r"\succ", "⪯": r"\preceq", "⪰": r"\succeq",
    "∬": r"\iint", "∭": r"\iiint", "⟹": r"\implies", "⟸": r"\impliedby", "⟺": r"\iff", "≔": r"\coloneqq",
    "≜": r"\triangleq", "⋮": r"\vdots", "⋱": r"\ddots", "↑": r"\uparrow", "↓": r"\downarrow", "∥": r"\parallel",
    "∠": r"\angle", "ℒ": r"\mathcal{L}", "𝒩": r"\mathcal{N}", "ℋ": r"\mathcal{H}",
    "⊘": r"\oslash", "⊛": r"\circledast", "⋆": r"\star", "≍": r"\asymp", "⊊": r"\subsetneq",
}

# Typographic characters with a text command.
_TEXT = {
    "\u00a0": "~", "\u2009": r"\,", "\u202f": r"\nobreak\,", "\u2002": r"\enspace{}", "\u2003": r"\quad{}",
    "–": r"\textendash{}", "—": r"\textemdash{}", "‘": r"\textquoteleft{}",
    "’": r"\textquoteright{}", "“": r"\textquotedblleft{}", "”": r"\textquotedblright{}", "•": r"\textbullet{}",
    "…": r"\ldots{}", "€": r"\texteuro{}", "°": r"\textdegree{}", "§": r"\S{}", "¶": r"\P{}",
    "©": r"\textcopyright{}", "®": r"\textregistered{}", "†": r"\dag{}", "‡": r"\ddag{}",
}

# Superscript and subscript characters: a run of them becomes one \ensuremath{^{...}} / \ensuremath{_{...}}.
_SUPERSCRIPT = {
    "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9",
    "⁺": "+", "⁻": "-", "⁼": "=", "⁽": "(", "⁾": ")", "ⁿ": "n", "ⁱ": "i", "ᵀ": r"\top ", "ᵗ": "t",
    "ᵏ": "k", "ˣ": "x", "ʲ": "j", "ᵐ": "m", "ᵈ": "d",
}
_SUBSCRIPT = {
    "₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4", "₅": "5", "₆": "6", "₇": "7", "₈": "8", "₉": "9",
    "₊": "+", "₋": "-", "₌": "=", "₍": "(", "₎": ")", "ₐ": "a", "ₑ": "e", "ₒ": "o", "ₓ": "x", "ᵢ": "i",
    "ⱼ": "j", "ₖ": "k", "ₗ": "l", "ₘ": "m", "ₙ": "n", "ₚ": "p", "ₛ": "s", "ₜ": "t",
}

# Characters pdflatex's UTF-8 input encoding typesets with T1/TS1 fonts (Latin-1 and Latin Extended-A
# letters and punctuation), apart from those mapped above.
_PASS_THROUGH = (frozenset(
    chr(c) for c in [*range(0xA1, 0x100), *range(0x100, 0x17F)]
    if chr(c) not in _MATH and chr(c) not in _TEXT and chr(c) not in _SUPERSCRIPT and chr(c) not in _GREEK
) | {"\u2010", "\u2011"}) - {"\u00ad", "\u00b8", "\u0126", "\u0127", "\u0138", "\u013f", "\u0140", "\u0149",
                                       "\u0166", "\u0167"}

# Combining accents after a letter: "W\u0303" (W̃) becomes \ensuremath{\tilde{W}}.
_COMBINING = {"\u0303": r"\tilde", "\u0302": r"\hat", "\u0304": r"\bar", "\u0305": r"\overline", "\u0307": r"\dot",
              "\u0308": r"\ddot", "\u20d7": r"\vec", "\u030c": r"\check"}
_ACCENTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

_SAFE_ASCII = frozenset(chr(c) for c in range(0x20, 0x7F)) - set(_ASCII)


def _unknown(ch: str) -> str:
    return rf"\texttt{{{{[}}U+{ord(ch):04X}{{]}}}}"


def _escape(text: str, ascii_specials: bool) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        for table, wrap in ((_SUPERSCRIPT, "^"), (_SUBSCRIPT, "_")):
            if ch in table:
                j = i
                while j < n and text[j] in table:
                    j += 1
                out.append(rf"\ensuremath{{{wrap}{{{''.join(table[c] for c in text[i:j])}}}}}")
                i = j
                break
        else:
            if i + 1 < n and text[i + 1] in _COMBINING and (ch in _ACCENTABLE or ch in _GREEK):
                base = _GREEK.get(ch, ch)
                out.append(rf"\ensuremath{{{_COMBINING[text[i + 1]]}{{{base}}}}}")
                i += 2
                continue
            if ch in _SAFE_ASCII or ch == " ":
                out.append(ch)
            elif ch in _ASCII:
                out.append(_ASCII[ch] if ascii_specials else ch)
            elif ch in _GREEK or ch in _MATH:
                out.append(rf"\ensuremath{{{_GREEK.get(ch) or _MATH[ch]}}}")
            elif ch in _TEXT:
                out.append(_TEXT[ch])
            elif ch in _PASS_THROUGH:
                out.append(ch)
            else:
                out.append(_unknown(ch))
            i += 1
    return "".join(out)


def escape_latex(value: object) -> Tex:
    """`value` as LaTeX text that prints literally; a `Tex` value is returned unchanged."""
    if isinstance(value, Tex):
        return value
    return Tex(_escape(unicodedata.normalize("NFC", str(value)), ascii_specials=True))


def escape_unicode(source: str) -> Tex:
    """Trusted LaTeX source with only its non-ASCII characters mapped (for author-written statements)."""
    return Tex(_escape(unicodedata.normalize("NFC", source), ascii_specials=False))


def finalize(value: object) -> str:
    """Jinja `finalize` hook of the LaTeX environment: every printed value is escaped unless it is `Tex`."""
    if value is None:
        return ""
    return escape_latex(value)
