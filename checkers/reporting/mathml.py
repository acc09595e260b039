"""Sympy expressions as presentation MathML restricted to MathML Core, the subset browsers render natively.

`to_mathml(expr)` runs sympy's `MathMLPresentationPrinter` (extended for our notation: `Scalar`,
determinants as det, traces as tr) on the very object that was checked, then rewrites the DOM into
MathML Core: `mfenced` and `menclose` (not in Core) become `mrow`s with explicit `mo` fences and
overbars, named entities become characters, attributes outside Core are dropped, `-` becomes the
minus sign. `Node` is the small element tree the statement converter builds too; `math_element`
wraps content in a `<math>` element and `serialize` writes escaped, entity-free markup.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions.matmul import MatMul
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.printer import Printer
from sympy.printing.precedence import PRECEDENCE, precedence_traditional
from sympy.printing.pretty.pretty_symbology import greek_unicode

from checkers.notation import indicator_condition, math_indices
from checkers.reporting.display import counted_from_one, over_whole_space, positive_first

__all__ = ["CORE_ELEMENTS", "Node", "math_element", "serialize", "to_mathml", "expression_node"]

# MathML Core elements (https://w3c.github.io/mathml-core/): anything else is rewritten or unwrapped.
CORE_ELEMENTS = frozenset({
    "math", "semantics", "annotation", "annotation-xml", "merror", "mfrac", "mi", "mmultiscripts", "mn", "mo",
    "mover", "mpadded", "mphantom", "mprescripts", "mroot", "mrow", "ms", "mspace", "msqrt", "mstyle", "msub",
    "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover",
})
_CORE_ATTRIBUTES = frozenset({
    "display", "displaystyle", "scriptlevel", "mathvariant", "linethickness", "accent", "accentunder", "form",
    "stretchy", "symmetric", "largeop", "movablelimits", "lspace", "rspace", "minsize", "maxsize", "width",
    "height", "depth", "columnspan", "rowspan", "class", "columnalign",
})
_LEAVES = frozenset({"mi", "mn", "mo", "mtext", "ms", "annotation"})
_DOUBLE_STRUCK_ITALIC = {"\u2147": "e", "\u2148": "i", "\u2146": "d"}
_UPRIGHT_GREEK = frozenset("ΓΔΘΛΞΠΣΥΦΨΩ")


@dataclass
class Node:
    """One MathML element: a tag, its attributes, and either text (leaf elements) or child nodes."""

    tag: str
    children: list[Node] = field(default_factory=list)
    text: str = ""
    attrs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def leaf(cls, tag: str, text: str, **attrs: str) -> Node:
        return cls(tag, text=text, attrs=dict(attrs))

    @classmethod
    def row(cls, *children: Node) -> Node:
        return cls("mrow", list(children))

    # The two DOM calls sympy's presentation printer makes on its elements, so that it builds these nodes
    # directly (see _NodeDocument) instead of a minidom tree that would then be copied.
    def appendChild(self, child: Node | str) -> Node | str:
        if isinstance(child, str):
            self.text += child
        else:
            self.children.append(child)
        return child

    def setAttribute(self, name: str, value: str) -> None:
        self.attrs[name] = value

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()


def _negative_matmul(expr) -> bool:
    """Whether a matrix product starts with a negative number: MatMul's could_extract_minus_sign without
    canonicalising the product (sympy's negates it and calls doit, tens of ms per product)."""
    c = expr.args[0]
    return bool(c.is_Number and c.is_extended_negative)


def _negated_matmul(expr):
    """−expr for a product with a negative leading number, built without canonicalising it."""
    c, rest = expr.args[0], expr.args[1:]
    if c == -1:
        return rest[0] if len(rest) == 1 else MatMul(*rest)
    return MatMul(-c, *rest)


def _precedence(item) -> int:
    if isinstance(item, MatMul):
        return PRECEDENCE["Add"] if _negative_matmul(item) else PRECEDENCE["Mul"]
    return precedence_traditional(item)


class _NodeDocument:
    """The document calls sympy's presentation printer makes: elements are `Node`s, texts are unescaped strings."""

    @staticmethod
    def createElement(tag: str) -> Node:
        return Node(tag)

    @staticmethod
    def createTextNode(data: str) -> str:
        return html.unescape(data) if "&" in data else data


class _Printer(MathMLPresentationPrinter):
    """sympy's presentation printer with our notation: Scalar(M) prints as M, det and tr by name.

    Signs and precedences of matrix products are read from their leading number instead of
    sympy's negate-and-compare (same markup, about 20 times faster on answers with matrices:
    the grading server prints every answer as the student types it). It builds `Node`s, not a
    minidom document (half the printing time).
    """

    def __init__(self, settings=None):
        Printer.__init__(self, settings)
        self.dom = _NodeDocument

    def parenthesize(self, item, level, strict=False):
        value = _precedence(item)
        if value < level or (not strict and value <= level):
            mrow = self.dom.createElement("mrow")
            mrow.appendChild(self._l_paren())
            mrow.appendChild(self._print(item))
            mrow.appendChild(self._r_paren())
            return mrow
        return self._print(item)

    def _print_MatMul(self, expr):
        row = self.dom.createElement("mrow")
        args = expr.args
        args = args[0].as_ordered_factors() + list(args[1:]) if isinstance(args[0], sp.Mul) else list(args)
        if _negative_matmul(expr):
            if args[0] == -1:
                args = args[1:]
            else:
                args[0] = -args[0]
            minus = self.dom.createElement("mo")
            minus.appendChild(self.dom.createTextNode("-"))
            row.appendChild(minus)
        level = _precedence(expr)
        for i, arg in enumerate(args):
            if i:
                times = self.dom.createElement("mo")
                times.appendChild(self.dom.createTextNode("&InvisibleTimes;"))
                row.appendChild(times)
            row.appendChild(self.parenthesize(arg, level, False))
        return row

    def _indicator(self, expr):
        """𝟙[a = b] for the Heaviside form of an indicator (as the student wrote it), else None."""
        found = indicator_condition(expr)
        if found is None:
            return None
        left, relation, right = found
        row = self.dom.createElement("mrow")
        one = self.dom.createElement("mn")
        one.appendChild(self.dom.createTextNode("\U0001d7d9"))  # mathematical double-struck digit one
        row.appendChild(one)
        condition = [self._print(left), Node.leaf("mo", _MATHML_RELATIONS[relation]), self._print(right)]
        row.appendChild(_fence("[", "]", condition))
        return row

    def _print_Heaviside(self, expr):
        found = self._indicator(expr)
        return found if found is not None else self._print_Function(expr)

    def _print_Add(self, expr, order=None):
        found = self._indicator(expr)
        if found is not None:
            return found
        row = self.dom.createElement("mrow")
        args = self._as_ordered_terms(expr, order=order)
        row.appendChild(self._print(args[0]))
        for arg in args[1:]:
            if isinstance(arg, MatMul):
                minus = _negative_matmul(arg)
                shown = _negated_matmul(arg) if minus else arg
            else:
                minus = arg.could_extract_minus_sign()
                shown = -arg if minus else arg
            sign = self.dom.createElement("mo")
            sign.appendChild(self.dom.createTextNode("-" if minus else "+"))
            row.appendChild(sign)
            row.appendChild(self._print(shown))
        return row

    def _print_Scalar(self, expr):
        return self._print(expr.args[0])

    # sympy's printer skips the methods of a renamed Function subclass: the grader's commuting variant of Scalar
    # (a 1 x 1 product in a student's answer) prints as Scalar does, never as 'commutingscalar(...)'.
    _print_CommutingScalar = _print_Scalar

    def _as_ordered_terms(self, expr, order=None):
        """sympy's order with the terms written with a minus moved last (`display.positive_first`); none: as built."""
        terms = super()._as_ordered_terms(expr, order=order)
        return terms if (order or self._settings.get("order")) == "none" else positive_first(list(terms))

    def _print_Transpose(self, expr):
        """Aᵀ with ⊤ as the problem sets write it (sympy's printer writes the letter T)."""
        sup = super()._print_Transpose(expr)
        sup.children[-1].text = "\u22a4"
        return sup

    def _name_piece(self, text: str):
        """One piece of a symbol's name as LaTeX's printer reads it: Greek and `ell` as letters, a trailing
        modifier (`qtilde`, `xhat`, `vbar`, `xdot`, `fprime`) as an accent over the rest."""
        for modifier, accent in _ACCENTS:
            if text.endswith(modifier) and len(text) > len(modifier):
                over = self.dom.createElement("mover")
                over.setAttribute("accent", "true")
                over.appendChild(self._name_piece(text[:-len(modifier)]))
                mark = self.dom.createElement("mo")
                mark.appendChild(self.dom.createTextNode(accent))
                over.appendChild(mark)
                return over
        for modifier in ("prime", "prm"):
            if text.endswith(modifier) and len(text) > len(modifier):
                row = self.dom.createElement("msup")
                row.appendChild(self._name_piece(text[:-len(modifier)]))
                mark = self.dom.createElement("mo")
                mark.appendChild(self.dom.createTextNode("\u2032"))
                row.appendChild(mark)
                return row
        mi = self.dom.createElement("mi")
        mi.appendChild(self.dom.createTextNode(_LETTERS.get(text, greek_unicode.get(text, text))))
        return mi

    def _name_pieces(self, pieces: list[str]):
        if len(pieces) == 1:
            return self._name_piece(pieces[0])
        row = self.dom.createElement("mrow")
        for i, piece in enumerate(pieces):
            if i:
                comma = self.dom.createElement("mo")
                comma.appendChild(self.dom.createTextNode(","))
                row.appendChild(comma)
            row.appendChild(self._name_piece(piece))
        return row

    def _print_Symbol(self, sym, style="plain"):
        """A symbol's name split as sympy's LaTeX printer splits it (`p_true`, `f_theta`, `x_1^2`)."""
        name, supers, subs = self._split_super_sub(sym.name)
        x = self._name_piece(name)
        if subs or supers:
            tag = "msubsup" if subs and supers else ("msub" if subs else "msup")
            script = self.dom.createElement(tag)
            script.appendChild(x)
            for pieces in (subs, supers):
                if pieces:
                    script.appendChild(self._name_pieces(pieces))
            x = script
        if style == "bold":
            x.setAttribute("mathvariant", "bold")
        return x

    def _print_AppliedUndef(self, expr):
        """An undefined function keeps its name as written, split like a symbol's: p_X(x), Var(y_L), f_θ(x)."""
        row = self.dom.createElement("mrow")
        row.appendChild(self._print_Symbol(sp.Symbol(expr.func.__name__)))
        row.appendChild(self._paren_comma_separated(*expr.args))
        return row

    def _function(self, name: str, arg):
        row = self.dom.createElement("mrow")
        mi = self.dom.createElement("mi")
        mi.appendChild(self.dom.createTextNode(name))
        row.appendChild(mi)
        apply = self.dom.createElement("mo")
        apply.appendChild(self.dom.createTextNode("\u2061"))
        row.appendChild(apply)
        inner = self._print(arg)
        fenced = self.dom.createElement("mrow")
        for text, part in (("(", None), (None, inner), (")", None)):
            if part is None:
                mo = self.dom.createElement("mo")
                mo.appendChild(self.dom.createTextNode(text))
                fenced.appendChild(mo)
            else:
                fenced.appendChild(part)
        row.appendChild(fenced)
        return row

    def _print_Determinant(self, expr):
        return self._function("det", expr.arg)

    def _print_Trace(self, expr):
        return self._function("tr", expr.arg)

    def _print_Indexed(self, expr):
        return self._subscripted(self._print(expr.base), expr.indices)

    def _print_MatrixElement(self, expr):
        """Entries counted from 1, one index for a vector, as the reports' LaTeX prints them: P_{i,j}, x_{k}."""
        return self._subscripted(self.parenthesize(expr.parent, PRECEDENCE["Atom"], strict=True), math_indices(expr))

    def _subscripted(self, base, positions):
        sub = self.dom.createElement("msub")
        sub.appendChild(base)
        row = self.dom.createElement("mrow")
        for i, position in enumerate(positions):
            if i:
                comma = self.dom.createElement("mo")
                comma.appendChild(self.dom.createTextNode(","))
                row.appendChild(comma)
            row.appendChild(self._print(position))
        sub.appendChild(row)
        return sub

    def _big_operator(self, sign: str, expr):
        """∑, ∏, max or min with one index range per limit, outermost first, then the body; brackets around
        a sum of terms only, as LaTeX's printer sets them."""
        row = self.dom.createElement("mrow")
        for var, low, high in reversed(expr.limits):
            over = self.dom.createElement("munderover")
            operator = self.dom.createElement("mo")
            operator.appendChild(self.dom.createTextNode(sign))
            start = self.dom.createElement("mrow")
            equals = self.dom.createElement("mo")
            equals.appendChild(self.dom.createTextNode("="))
            for piece in (self._print(var), equals, self._print(low)):
                start.appendChild(piece)
            for piece in (operator, start, self._print(high)):
                over.appendChild(piece)
            row.appendChild(over)
        body = expr.function
        row.appendChild(self.parenthesize(body, PRECEDENCE["Add"] + 1) if isinstance(body, sp.Add) else self._print(body))
        return row

    def _print_Sum(self, expr):
        # sympy's own printer shows only the innermost of several limits.
        return self._big_operator("\u2211", counted_from_one(expr))

    def _print_Identity(self, expr):
        """The identity matrix as I, as the LaTeX printer sets it."""
        return Node.leaf("mi", "I")

    def _print_Integral(self, expr):
        """An integral over the whole line as ∫ f dx, as the LaTeX printer sets it."""
        return super()._print_Integral(over_whole_space(expr))

    def _print_Product(self, expr):
        return self._big_operator("\u220f", expr)

    def _print_IndexedExtremum(self, expr):
        return self._big_operator(expr.word, expr)

    def _print_Piecewise(self, expr):
        row = self.dom.createElement("mrow")
        brace = self.dom.createElement("mo")
        brace.appendChild(self.dom.createTextNode("{"))
        row.appendChild(brace)
        table = self.dom.createElement("mtable")
        table.setAttribute("columnalign", "left")
        for value, condition in expr.args:
            tr = self.dom.createElement("mtr")
            for content in (self._print(value), None):
                td = self.dom.createElement("mtd")
                if content is None:
                    text = self.dom.createElement("mtext")
                    text.appendChild(self.dom.createTextNode("otherwise" if condition == sp.true else "if\u00a0"))
                    td.appendChild(text)
                    if condition != sp.true:
                        td.appendChild(self._print(condition))
                else:
                    td.appendChild(content)
                tr.appendChild(td)
            table.appendChild(tr)
        row.appendChild(table)
        return row


_PRINTER_SETTINGS = {"mat_delim": "["}
_MATHML_RELATIONS = {"=": "=", "!=": "\u2260", "<": "<", "<=": "\u2264", ">": ">", ">=": "\u2265"}
# Names sympy's LaTeX printer turns into letters beyond the Greek ones, and its accent modifiers (longest first).
_LETTERS = {"ell": "\u2113", "hbar": "\u210f", "nabla": "\u2207", "partial": "\u2202", "aleph": "\u2135",
            "lamda": "\u03bb", "Lamda": "\u039b"}
_ACCENTS = (("ddot", "\u00a8"), ("tilde", "~"), ("hat", "^"), ("bar", "\u203e"), ("dot", "\u02d9"),
            ("vec", "\u2192"), ("check", "\u02c7"), ("breve", "\u02d8"))


def _fence(open_: str, close: str, children: list[Node]) -> Node:
    parts: list[Node] = []
    if open_:
        parts.append(Node.leaf("mo", open_))
    parts.extend(children)
    if close:
        parts.append(Node.leaf("mo", close))
    return Node("mrow", parts)


def to_core(node: Node) -> Node:
    """Rewrite a presentation-MathML tree into MathML Core (in place where possible); returns the new root."""
    children = [to_core(c) for c in node.children]
    tag, attrs = node.tag, node.attrs
    if tag == "mfenced":
        return _fence(attrs.get("open", "("), attrs.get("close", ")"), children)
    if tag == "menclose":
        inner = children[0] if len(children) == 1 else Node("mrow", children)
        if attrs.get("notation") == "top":
            return Node("mover", [inner, Node.leaf("mo", "\u203e", stretchy="true")], attrs={"accent": "true"})
        return Node("mrow", [inner])
    if tag not in CORE_ELEMENTS:
        return Node("mrow", children)
    kept = {k: v for k, v in attrs.items() if k in _CORE_ATTRIBUTES}
    if kept.get("mathvariant") not in (None, "normal"):
        del kept["mathvariant"]  # Core renders only mathvariant="normal"
    text = node.text
    if tag in ("mi", "mo") and text in _DOUBLE_STRUCK_ITALIC:  # most fonts lack these; TeX prints e, i, d
        tag, text = "mi", _DOUBLE_STRUCK_ITALIC[text]
    if tag == "mi" and text.isdigit():
        tag = "mn"
    if tag == "mi" and text in _UPRIGHT_GREEK:
        kept["mathvariant"] = "normal"  # TeX sets capital Greek upright
    if tag == "msup" and len(children) == 2 and children[1].tag == "mo" and children[1].text == "T":
        children[1] = Node.leaf("mi", "T", mathvariant="normal")  # sympy prints the transpose as an operator
    if tag == "mo" and text == "-":
        text = "\u2212"
    if tag == "mn" and text.startswith("-") and len(text) > 1:
        return Node("mrow", [Node.leaf("mo", "\u2212"), Node.leaf("mn", text[1:])])
    return Node(tag, children, text if tag in _LEAVES else "", kept)


def expression_node(expr: sp.Basic, order: str | None = None, log_name: str = "log") -> Node:
    """The MathML Core tree of one sympy expression, printed from the object itself (`order="none"`: terms in
    the order the expression was built, for display forms; `log_name` "ln": the natural logarithm as ln)."""
    printer = _Printer({**_PRINTER_SETTINGS, **({"order": order} if order else {}),
                        **({"ln_notation": True} if log_name == "ln" else {})})
    return to_core(printer._print(sp.sympify(expr)))


def math_element(children: list[Node], display: bool = False) -> Node:
    attrs = {"display": "block"} if display else {}
    return Node("math", [Node("mrow", children)] if len(children) != 1 else children, attrs=attrs)


def _escape(text: str, quote: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


def serialize(node: Node) -> str:
    """Markup for `node`: every text and attribute escaped, no named entities, every element closed."""
    attrs = "".join(f' {k}="{_escape(v, quote=True)}"' for k, v in node.attrs.items())
    if node.tag in _LEAVES:
        return f"<{node.tag}{attrs}>{_escape(node.text)}</{node.tag}>"
    return f"<{node.tag}{attrs}>{''.join(serialize(c) for c in node.children)}</{node.tag}>"


def to_mathml(expr: sp.Basic, display: bool = False) -> str:
    """`<math>` markup (MathML Core) for one sympy expression."""
    return serialize(math_element([expression_node(expr)], display))
