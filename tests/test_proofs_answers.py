"""The answers of final-2022 and quiz1-2020: one per sub-question of the seed text, and code answers are what the checks run."""

from __future__ import annotations

import inspect
import sys

import pytest
import sympy as sp

from checkers.model import Derivation
from checkers.sampling import Config, draw_sample
from proofs import (bn_backprop_loops, flow_mle, geometric_gan, hinge_gan, hint_flow, layernorm, mutual_information,
                    resnext_block, rnn_parallel_time, tv_min, vae_bernoulli, vae_prior_scaling)

MODULES = (layernorm, hint_flow, flow_mle, vae_bernoulli, vae_prior_scaling, geometric_gan, hinge_gan, tv_min,
           resnext_block, mutual_information, bn_backprop_loops, rnn_parallel_time)

# The seed texts' lettering (shared/seeds/002_*.txt and 004_*.txt); "" for a problem without sub-questions.
# Problem 6 of final-2022 is answered by three derivations: hinge-gan (a, b, e), tv-min (d) and geometric-gan (c,
# with a second view of (b) and a worked example of (e)).
LABELS = {
    "layernorm": ("",), "hint-flow": ("(a)", "(b)"), "flow-mle": ("",), "vae-bernoulli": ("",),
    "vae-prior-scaling": ("(a)", "(b)"), "hinge-gan": ("(a)", "(b)", "(e)"), "tv-min": ("(d)",),
    "geometric-gan": ("Extra to (b)", "(c)", "Extra to (e)"), "resnext-block": ("",), "mutual-information": ("",),
    "elbo-decomposition": ("(a)", "(b)"), "bn-backprop-loops": ("",), "rnn-parallel-time": ("(a)", "(b)"),
}

DERIVATIONS = {d.id: (module, d) for module in MODULES for d in module.DERIVATIONS}
FINAL_P6 = {"hinge-gan", "tv-min", "geometric-gan"}


def test_every_derivation_of_the_two_sets_is_listed():
    assert set(DERIVATIONS) == set(LABELS)


def test_problem_6_letters_are_all_answered():
    letters = {part.label for did in FINAL_P6 for part in DERIVATIONS[did][1].parts}
    exam = {label for label in letters if not label.startswith("Extra to ")}
    assert exam == {"(a)", "(b)", "(c)", "(d)", "(e)"}
    assert letters - exam <= {f"Extra to {label}" for label in exam}  # extras say so, never an exam letter twice


@pytest.mark.parametrize("derivation_id", sorted(LABELS))
def test_parts_follow_the_seed_lettering(derivation_id):
    _, derivation = DERIVATIONS[derivation_id]
    assert tuple(part.label for part in derivation.parts) == LABELS[derivation_id]


@pytest.mark.parametrize("derivation_id", sorted(LABELS))
def test_every_claim_is_evidence_for_some_part(derivation_id):
    _, derivation = DERIVATIONS[derivation_id]
    cited = {claim_id for part in derivation.parts for claim_id in part.claims}
    assert cited == {claim.id for claim in derivation.claims}


@pytest.mark.parametrize("derivation_id", sorted(LABELS))
def test_every_part_has_a_question_and_states_its_scope(derivation_id):
    _, derivation = DERIVATIONS[derivation_id]
    for part in derivation.parts:
        assert part.question.strip(), part.label
        assert part.answer.scope.strip(), f"{derivation_id} {part.label}: say where the answer is checked"


FORBIDDEN_IN_FORMULAS = ("lam ", "lam}", "{lam", "qt", "__", r"\epsilon", "Sum(", "Max(", "Min(")


@pytest.mark.parametrize("derivation_id", sorted(LABELS))
def test_formula_answers_print_in_the_problem_notation(derivation_id):
    _, derivation = DERIVATIONS[derivation_id]
    for part in derivation.parts:
        for expr in (part.answer.formula, part.answer.lhs):
            if expr is None:
                continue
            printed = sp.latex(expr)
            assert not [bad for bad in FORBIDDEN_IN_FORMULAS if bad in printed], printed


def _code_answers():
    for did, (module, derivation) in sorted(DERIVATIONS.items()):
        for part in derivation.parts:
            if part.answer.code is not None:
                yield pytest.param(module, derivation, part, id=f"{did}{part.label or ''}")


def _called_code(run) -> set:
    """Code objects of every Python function called while `run()` executes."""
    seen: set = set()

    def profile(frame, event, arg):
        if event == "call":
            seen.add(frame.f_code)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(previous)
    return seen


@pytest.mark.parametrize(("module", "derivation", "part"), list(_code_answers()))
def test_code_answers_are_module_code_that_the_checks_execute(module, derivation: Derivation, part):
    pieces = part.answer.code if isinstance(part.answer.code, tuple) else (part.answer.code,)
    for code in pieces:
        assert inspect.getmodule(code) is module, "the listing must be this module's own code"
        assert inspect.getsource(code).strip()
    targets = {code.forward.__code__ if inspect.isclass(code) else code.__code__ for code in pieces}
    by_id = {claim.id: claim for claim in derivation.claims}
    executed = []
    for claim_id in part.claims:
        claim = by_id[claim_id]
        if claim.numeric is None:
            continue
        config = Config({name: lo for name, (lo, _) in claim.dims.items()}, batch_seed=0)
        sample = draw_sample(claim, config, batch=2)
        if targets & set(_called_code(lambda claim=claim, sample=sample: claim.numeric(sample))):
            executed.append(claim_id)
    assert executed, f"no claim of part {part.label!r} runs {[code.__name__ for code in pieces]}"


def _author_texts(derivation: Derivation):
    yield "statement", derivation.statement
    for claim in derivation.claims:
        yield f"{claim.id} statement", claim.statement
        for step in claim.steps:
            yield f"{claim.id} step", step.justification
        for assumption in claim.assumptions:
            yield f"{claim.id} assumption", assumption
    for part in derivation.parts:
        yield f"part {part.label} question", part.question
        for text in (part.answer.text, part.answer.scope, *part.answer.algorithm):
            if text:
                yield f"part {part.label} answer", text


@pytest.mark.parametrize("derivation_id", sorted(LABELS))
def test_author_text_is_in_the_supported_latex_subset(derivation_id):
    """Statements, steps, assumptions and answers render as math, never as their source with a warning."""
    from checkers.reporting.statements import render_statement

    _, derivation = DERIVATIONS[derivation_id]
    problems = [(where, render_statement(text).problems) for where, text in _author_texts(derivation)]
    assert [p for p in problems if p[1]] == []
