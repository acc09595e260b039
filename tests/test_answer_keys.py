"""The answer keys as a TA hands them out: code that runs as printed, the problems' notation, no evidence vocabulary."""

import ast
import math
import re
import shutil
import subprocess

import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from pyflakes import checker as pyflakes_checker
from pyflakes import messages as pyflakes_messages
from torch import nn

from checkers.errors import ReportError
from checkers.registry import all_derivations
from checkers.reporting.build import BuildOptions, build_reports
from checkers.reporting.display import check_display, counted_from_one, over_whole_space
from checkers.reporting.latex_math import to_latex
from checkers.registry import problem_sets
from checkers.reporting.documents import answer_view

# What a listing may use without defining it: the modules every course listing imports, and Python's builtins.
COURSE_IMPORTS = {"torch": torch, "nn": nn, "F": F, "math": math}
SETS = {s.id: s for s in problem_sets()}
# Words of the evidence (full solution) that a key must not contain.
JARGON = ("scope", "mutant", "seed", "sympy", "monte carlo", "not proved symbolically", "wrong variant",
          "executed by the checks", "the checks run", "claim ")


def code_answers():
    for derivation in all_derivations():
        for part in derivation.parts:
            if part.answer.code is not None:
                yield pytest.param(derivation, part, id=f"{derivation.id}{part.label}")


def _set_names(derivation) -> set[str]:
    return {name for set_id in derivation.problem_sets for name in SETS[set_id].names} if all(
        s in SETS for s in derivation.problem_sets) else set()


@pytest.mark.parametrize(("derivation", "part"), list(code_answers()))
def test_code_listing_defines_every_name_it_uses(derivation, part):
    listing = answer_view(part.answer).code
    tree = ast.parse(listing)
    allowed = set(COURSE_IMPORTS) | _set_names(derivation)
    found = pyflakes_checker.Checker(tree, builtins=allowed)
    undefined = [str(m) for m in found.messages if isinstance(m, pyflakes_messages.UndefinedName)]
    assert not undefined, (f"{derivation.id} {part.label}: the listing uses names that neither it, torch/nn/F/math "
                           f"nor the problem set ({sorted(_set_names(derivation))}) defines: {undefined}")


@pytest.mark.parametrize(("derivation", "part"), list(code_answers()))
def test_code_listing_runs_as_printed(derivation, part):
    """Executing the printed text defines what it shows (the same objects the checks run)."""
    listing = answer_view(part.answer).code
    namespace = dict(COURSE_IMPORTS)
    namespace.update({name: object() for name in _set_names(derivation) if name not in namespace})
    exec(compile(listing, f"<listing {derivation.id}>", "exec"), namespace)  # our own source, not student text
    pieces = part.answer.code if isinstance(part.answer.code, tuple) else (part.answer.code,)
    for piece in pieces:
        assert piece.__name__ in namespace


def test_net2_listing_runs_at_the_problems_sizes():
    """hw7 P5(a) as printed: Net2() has the template's signature and maps B x 3 x 32 x 32 to B x 10 x 1 x 1.

    Built on the meta device (shapes only: the full-width network has 3.4e8 parameters)."""
    from proofs.fc_as_conv import Net2
    with torch.device("meta"):
        net = Net2()
        out = net(torch.empty(2, 3, 32, 32))
    assert tuple(out.shape) == (2, 10, 1, 1)
    assert tuple(net.classifier[0].weight.shape) == (4096, 256, 18, 18)


def test_layer_norm_listing_runs_as_printed():
    listing = next(answer_view(p.answer).code for d in all_derivations() if d.id == "layernorm" for p in d.parts)
    namespace = dict(COURSE_IMPORTS)
    exec(compile(listing, "<listing layernorm>", "exec"), namespace)
    x = torch.randn(3, 2, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = namespace["MyLayerNorm"]((2, 4, 5)).to(torch.float64)(x)
    torch.testing.assert_close(ours, nn.LayerNorm((2, 4, 5), eps=1e-5).to(torch.float64)(x))


def formula_answers():
    for derivation in all_derivations():
        for part in derivation.parts:
            if part.answer.formula is not None:
                yield pytest.param(derivation, part, id=f"{derivation.id}{part.label}")


@pytest.mark.parametrize(("derivation", "part"), list(formula_answers()))
def test_every_displayed_answer_has_its_left_hand_side(derivation, part):
    formula = answer_view(part.answer).formula
    assert any(p in ("=", "<=", ">=", "≈", ":=") for p in formula.parts if isinstance(p, str)), (
        f"{derivation.id} {part.label}: the key would print a formula without saying what it equals; give the "
        f"Answer an lhs or a name (`named`)")


@pytest.mark.parametrize(("derivation", "part"), list(formula_answers()))
def test_no_sum_in_an_answer_starts_where_the_problem_does_not_count(derivation, part):
    """Every problem set counts from 1: no printed sum starts at 0."""
    formula = answer_view(part.answer).formula
    tex = " ".join(str(to_latex(getattr(p, "expr", p), order="none")) for p in formula.parts
                   if isinstance(p, sp.Basic) or hasattr(p, "expr"))
    assert not re.search(r"\\sum_\{[^{}]*= *0\}", tex), f"{derivation.id} {part.label}: {tex}"


def test_a_display_that_differs_from_the_checked_formula_is_refused():
    x, b = sp.symbols("x b")
    check_display(sp.Add(x, -b, evaluate=False), x - b, "ok")
    with pytest.raises(ReportError, match="not equal"):
        check_display(sp.Add(x, b, evaluate=False), x - b, "wrong sign")


def test_sums_over_positions_print_counted_from_one_and_others_stay():
    j, d = sp.symbols("j d", integer=True)
    v = sp.IndexedBase("v")
    assert counted_from_one(sp.Sum(v[j] ** 2, (j, 0, d - 1))).limits == ((j, 1, d),)
    assert counted_from_one(sp.Sum(j * v[j], (j, 0, d - 1))).limits == ((j, 0, d - 1),)  # both uses: kept
    n, L = sp.IndexedBase("n"), sp.Symbol("L", integer=True, positive=True)
    by_number = sp.Sum(1 / (3 ** (j + 1) * n[L - j - 1]), (j, 0, L - 1))  # j only as a number: reindexed exactly
    shown = counted_from_one(by_number)
    assert shown.limits == ((j, 1, L),) and shown.function == 1 / (3 ** j * n[L - j])
    assert sp.simplify(shown.subs(L, 4).doit() - by_number.subs(L, 4).doit()) == 0


def test_whole_line_integrals_print_without_limits():
    x = sp.Symbol("x")
    f = sp.Function("f")
    assert over_whole_space(sp.Integral(f(x), (x, -sp.oo, sp.oo))).limits == ((x,),)
    assert "infty" not in to_latex(sp.Integral(f(x), (x, -sp.oo, sp.oo)))
    assert over_whole_space(sp.Integral(f(x), (x, 0, 1))).limits == ((x, 0, 1),)


# -- the built keys ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    pdf = shutil.which("latexmk") is not None and shutil.which("pdftotext") is not None
    options = BuildOptions(out_dir=root / "out", formats=("pdf", "html") if pdf else ("html",),
                           devices=("cpu",), cache_dir=root / "cache", full=False)
    outcome = build_reports(options)
    texts = {}
    for path in sorted((root / "out").glob("*-key.html")):
        html = path.read_text(encoding="utf-8")
        texts[path.name] = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", " ", html, flags=re.S))
    for path in sorted((root / "out").glob("*-key.pdf")):
        texts[path.name] = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                          check=True).stdout
    return outcome, texts, root / "out"


@pytest.mark.slow
def test_keys_hold_no_evidence_vocabulary(keys):
    _, texts, _ = keys
    claim_ids = {c.id for d in all_derivations() for c in d.claims if c.id.count("-") >= 2}  # not "closed-form"
    assert texts
    for name, text in texts.items():
        flat = " ".join(text.split()).lower()
        found = [word for word in JARGON if word in flat]
        found += [cid for cid in claim_ids if re.search(rf"(?<![\w-]){re.escape(cid)}(?![\w-])", flat)]
        assert not found, f"{name} contains {found}"


@pytest.mark.slow
def test_no_sum_in_a_built_key_starts_at_zero(keys):
    """Formulas and author text alike: every problem set counts from 1."""
    _, _, out = keys
    for path in sorted(out.glob("*-key.html")):
        html = path.read_text(encoding="utf-8")
        starts = re.findall(r"<mo>[∑∏]</mo><mrow><mi>[^<]*</mi><mo>=</mo><mn>(\d+)</mn>", html)
        assert "0" not in starts, f"{path.name}: a sum starts at 0"


@pytest.mark.slow
def test_keys_are_one_to_four_pages(keys):
    _, _, out = keys
    pdfs = sorted(out.glob("*-key.pdf"))
    if not pdfs:
        pytest.skip("no LaTeX here: page counts need the PDFs")
    for path in pdfs:
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        assert 1 <= pages <= 4, f"{path.name}: {pages} pages"
