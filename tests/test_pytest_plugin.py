"""The pytest plugin's red path: a toy proof package whose every kind of failure turns its item red, with the replay command.

A plugin that let a failing claim through would make `make test` green while `proofcheck verify`
fails. The toy package below holds one claim that holds and one claim per way a claim can fail (a
false formula, a wrong variant that survives, a reference that disagrees, a float16 row that is off
while float64 is right) and one claim that holds only inside verify's contexts (one torch thread,
IEEE float32); pytest runs it in a fresh process, configured by PROOFCHECK_PROOFS.
"""

from __future__ import annotations

import os
import textwrap

import pytest

TOY_MODULE = textwrap.dedent('''
    """A toy derivation for the plugin's tests: one true claim and one claim per way of failing."""

    import sympy as sp
    import torch

    from checkers import Claim, Derivation, Mutant, Real, Reference, Variable, identity

    u, w = sp.symbols("u w", real=True)
    VARIABLES = (Variable("u", Real(-2.0, 2.0)), Variable("w", Real(-2.0, 2.0)))


    def _claim(id_, lhs, rhs, **kwargs):
        kwargs.setdefault("mutants", (Mutant("minus", "u − w", rhs=u - w),))
        return Claim(id=id_, statement=id_, lhs=lhs, rhs=rhs, variables=VARIABLES, dtypes=(torch.float64,),
                     instances=64, **kwargs)


    def _off_in_half(sample):
        """u + w, but 0.25 too large when computed in float16 (a bug of the low-precision path only)."""
        bias = 0.25 if sample.dtype == torch.float16 else 0.0
        return sample["u"] + sample["w"] + bias, sample["w"] + sample["u"]


    def _contexts(sample):
        """Equal sides only inside verify's contexts: one torch thread and float32 matmuls in IEEE float32."""
        inside = torch.get_num_threads() == 1 and torch.get_float32_matmul_precision() == "highest"
        return sample["u"], sample["u"] + (0.0 if inside else 1.0)


    DERIVATIONS = (Derivation(id="toy", title="toy", source="none P0", claims=(
        _claim("holds", u + w, w + u, symbolic=identity()),
        _claim("false-claim", u * w, u + w),
        _claim("surviving-mutant", u + w, w + u, mutants=(Mutant("same", "the claim itself", rhs=u + w),)),
        _claim("failing-reference", u + w, w + u,
               references=(Reference("off-by-one", "u + w + 1", lambda s: s["u"] + s["w"] + 1),)),
        Claim(id="failing-float16", statement="u + w = w + u", numeric=_off_in_half, variables=VARIABLES,
              dtypes=(torch.float64, torch.float16), instances=64,
              mutants=(Mutant("minus", "u − w", numeric=lambda s: (s["u"] + s["w"], s["u"] - s["w"])),)),
        Claim(id="verify-contexts", statement="u = u", numeric=_contexts, variables=VARIABLES[:1],
              dtypes=(torch.float64,), instances=64,
              mutants=(Mutant("plus-one", "u + 1", numeric=lambda s: (s["u"], s["u"] + 1)),)),
    )),)
''')

# The toy package's conftest leaves torch where verify must not: two threads, TF32-like float32 matmuls.
TOY_CONFTEST = textwrap.dedent('''
    import torch

    torch.set_num_threads(2)
    torch.set_float32_matmul_precision("high")
''')

pytestmark = pytest.mark.slow  # the thorough tier: one pytest run in a fresh process (imports torch and sympy)

RED = ("false-claim", "surviving-mutant", "failing-reference", "failing-float16")


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """Run pytest once on the toy package in a fresh process; the result's outcomes and output."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("toy")
    (root / "toyproofs").mkdir()
    (root / "toyproofs" / "__init__.py").write_text('"""Toy proof package."""\n')
    (root / "toyproofs" / "toy.py").write_text(TOY_MODULE)
    (root / "conftest.py").write_text(TOY_CONFTEST)
    env = {**os.environ, "PROOFCHECK_PROOFS": "toyproofs", "PYTHONPATH": str(root), "HYPOTHESIS_PROFILE": "ci"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "toyproofs"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    return done.stdout + done.stderr


def _outcome(output: str, claim: str) -> str:
    for line in output.splitlines():
        if line.startswith(("PASSED", "FAILED", "SKIPPED", "ERROR")) and f"toy/{claim}_cpu" in line:
            return line.split()[0]
    raise AssertionError(f"no outcome for toy/{claim}_cpu in:\n{output[-3000:]}")


def test_a_true_claim_is_green(toy_run):
    assert _outcome(toy_run, "holds") == "PASSED"


@pytest.mark.parametrize("claim", RED)
def test_every_kind_of_failure_is_red_with_its_replay_command(toy_run, claim):
    assert _outcome(toy_run, claim) == "FAILED", toy_run[-3000:]
    assert f"replay the claim: proofcheck verify toy/{claim} --seed 0 --device cpu" in toy_run


def test_what_failed_is_named_in_the_failure_text(toy_run):
    assert "mutant same (the claim itself) survived" in toy_run
    assert "toy / failing-reference / reference off-by-one: mismatch on cpu float64" in toy_run
    assert "toy / failing-float16 / numeric: mismatch on cpu float16" in toy_run
    assert "toy / false-claim / numeric: mismatch on cpu float64" in toy_run
    assert "--dtype float16" in toy_run  # the numeric failure's own replay names the dtype


def test_items_run_inside_verify_contexts(toy_run):
    """The toy conftest sets two threads and 'high' float32 precision; the item must run as verify does."""
    assert _outcome(toy_run, "verify-contexts") == "PASSED", toy_run[-3000:]


def test_importing_the_plugin_does_not_load_a_hypothesis_profile(monkeypatch):
    """The profile is loaded in pytest_configure: importing the module (as hypothesis users may) changes nothing."""
    import importlib

    from hypothesis import settings

    import checkers.pytest_plugin as plugin

    current = settings._current_profile
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "dev" if current == "ci" else "ci")
    importlib.reload(plugin)
    assert settings._current_profile == current
