r"""Gradeable problems as declarations: coverage of the problem sets, witnesses, the static index, configuration."""

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import sympy as sp
import torch

from checkers.errors import DeclarationError, StudentInputError, UsageError
from checkers.grading.catalog import index_entries, problems, sources_digest, stored_index
from checkers.grading.grader import grade_expression, grade_in_process
from checkers.grading.instances import instances_for
from checkers.grading.parse import parse_answer
from checkers.grading.problem import Misconception, Problem, Symbol

ROOT = Path(__file__).resolve().parent.parent
SETS = ("hw6-2021", "hw7-2024", "final-2022", "quiz1-2020")

# Problems whose reference sympy prints in a form that is not student LaTeX: the joint table's entries 0-based
# inside a \substack double sum, the indicator as Heaviside's \theta. That print must be refused (never misread);
# the natural LaTeX a student writes is graded instead.
NATURAL_FORM = {"mutual-information": r"\sum_{i,j} P_{ij}\log\frac{P_{ij}}{p_i q_j}",
                "lse-gradient-limit": r"\mathbb{1}[x_k = \max_j x_j]"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_every_problem_set_has_at_least_three_problems_and_twenty_in_all():
    known = problems()
    counts = Counter(p.source.split()[0] for p in known.values())
    assert len(known) >= 20, sorted(known)
    for name in SETS:
        assert counts[name] >= 3, (name, counts)


@pytest.mark.parametrize("pid", sorted(problems()))
def test_every_problem_has_a_named_misconception_that_is_recognised(pid):
    p = problems()[pid]
    named = p.misconception_exprs()
    assert named, pid
    for mistake, wrong in named:
        result = grade_expression(p, wrong)
        assert result.verdict == "incorrect", (pid, mistake.id, result.message)
        assert mistake.id in [f.id for f in result.feedback], (pid, mistake.id, result.message)


@pytest.mark.parametrize("pid", sorted(pid for pid, p in problems().items() if p.witness is not None))
def test_declared_answers_agree_with_their_independent_witness(pid):
    # A formula that is not the claim's own right-hand side is checked here against a separate computation
    # (torch's layer_norm, binary cross entropy, KL divergence, autograd, FlopCounterMode, ...).
    p = problems()[pid]
    inst = instances_for(p)
    for group, reference in zip(inst.groups, inst.references):
        witness = p.witness(group).to(torch.float64).reshape(reference.shape)
        torch.testing.assert_close(reference, witness, rtol=1e-9, atol=1e-12, msg=f"{pid} at {dict(group.dims)}")


@pytest.mark.parametrize("pid", sorted(problems()))
def test_the_reference_as_sympy_prints_it_reads_back_as_correct(pid):
    p = problems()[pid]
    text = sp.latex(p.reference_expr)
    if pid in NATURAL_FORM:
        with pytest.raises(StudentInputError):
            parse_answer(p, text)
        text = NATURAL_FORM[pid]
    instances_for(p)  # drawn once per process before grading, as the grading workers do
    result = grade_in_process(p, text, symbolic=False, limit=20.0)
    assert result.verdict == "correct", (pid, text, result.message)


def test_exact_counts_are_compared_exactly():
    p = problems()["alexnet-conv-multiplications"]
    reference = int(p.reference_expr)
    assert grade_in_process(p, str(reference), symbolic=False).verdict == "correct"
    off_by_one = grade_in_process(p, f"{reference} + 1", symbolic=False)
    assert off_by_one.verdict == "incorrect" and "exactly" in off_by_one.message
    doubled = grade_in_process(p, f"2 \\cdot {reference}", symbolic=False)
    assert doubled.feedback[0].id == "multiply-adds-doubled"
    assert grade_in_process(p, "n", symbolic=False).verdict == "invalid"


def test_the_static_index_matches_the_declarations():
    doc = stored_index("proofs")
    assert doc is not None, "proofs/gradeable-index.json is missing: run `proofcheck grade --list` to write it"
    assert doc["problems"] == index_entries("proofs"), \
        "proofs/gradeable-index.json is out of date: run `proofcheck grade --list` to rewrite it"


def test_checkers_never_import_the_proof_packages():
    pattern = re.compile(r"^\s*(from|import)\s+proofs\b|[\"']proofs\.\w", re.MULTILINE)
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "checkers").rglob("*.py")
                 if pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


# -- declarations fail when they are written, not when a student is graded ---------------------------------
def _claim():
    return problems()["kl-gaussian"].claim


def test_a_symbol_the_claim_does_not_have_is_refused_at_declaration():
    with pytest.raises(ValueError, match="does not have"):
        Problem(id="x", title="t", source="hw6-2021 P5", claim=_claim(), symbols=(Symbol(sp.Symbol("zeta"), "z"),),
                misconceptions=(Misconception("m", "f", sp.Integer(0)),))


def test_a_formula_without_a_witness_or_a_bad_tag_or_a_mutant_typo_is_refused():
    claim = _claim()
    with pytest.raises(ValueError, match="witness"):
        Problem(id="x", title="t", source="hw6-2021 P5", claim=claim, symbols=(), answer=sp.Integer(1),
                misconceptions=(Misconception("m", "f", sp.Integer(0)),))
    for source, says in (("homework six", "must cite problems by number, like 'hw6-2021 P3'"),
                         ("hw6-2021 P5, hw6-2021 P6", "cites hw6-2021 twice"), ("hw6-2021 P5,", "cites no problem")):
        with pytest.raises(DeclarationError, match=f"gradeable problem 'x'.*{says}"):
            Problem(id="x", title="t", source=source, claim=claim, symbols=(),
                    misconceptions=(Misconception("m", "f", sp.Integer(0)),))
    with pytest.raises(ValueError, match="trace-swaped"):
        Problem(id="x", title="t", source="hw6-2021 P5", claim=claim, symbols=(),
                mutant_feedback={"trace-swaped": "typo"})


# -- configuration and the fast listing ------------------------------------------------------------------------
def _fake_package(tmp_path: Path) -> dict:
    """A proof package `coursepkg` with one (empty) module and a fresh hand-written index."""
    package = tmp_path / "coursepkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""A course."""\n')
    (package / "week1.py").write_text('"""Nothing declared."""\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PROOFCHECK_PROOFS": "coursepkg"}
    code = ("import os, sys; sys.path.insert(0, os.environ['PYTHONPATH']);"
            "from checkers.grading.catalog import sources_digest; print(sources_digest('coursepkg'))")
    digest = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()
    entry = {"id": "demo", "title": "A demo problem", "source": "hw1-2030 P1", "module": "coursepkg.week1",
             "claim": "c", "symbols": ["x"], "dims": {"n": [1, 2]}, "exact": False, "misconceptions": ["m"]}
    (package / "gradeable-index.json").write_text(json.dumps({"format": 1, "package": "coursepkg", "sources": digest,
                                                               "problems": [entry]}))
    return env


def test_grade_list_reads_the_static_index_without_importing_torch_or_sympy(tmp_path):
    env = _fake_package(tmp_path)
    code = ("import sys; from checkers.cli import main; code = main(['grade', '--list']);"
            "print('HEAVY' if {'torch', 'sympy'} & set(sys.modules) else 'LIGHT'); sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "demo" in out.stdout and "[hw1-2030 P1]" in out.stdout and "n ∈ {1, 2}" in out.stdout
    assert out.stdout.strip().endswith("LIGHT"), out.stdout


def test_proof_packages_come_from_pyproject_or_the_environment(tmp_path, monkeypatch):
    from checkers import registry

    (tmp_path / "pyproject.toml").write_text('[tool.proofcheck]\nproof-packages = ["coursepkg", "extra"]\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(registry.ENV_VAR, raising=False)
    registry.proof_packages.cache_clear()
    try:
        assert registry.proof_packages() == ("coursepkg", "extra")
        monkeypatch.setenv(registry.ENV_VAR, "other")
        registry.proof_packages.cache_clear()
        assert registry.proof_packages() == ("other",)
        (tmp_path / "pyproject.toml").write_text('[tool.proofcheck]\nproof-packages = "notalist"\n')
        monkeypatch.delenv(registry.ENV_VAR)
        registry.proof_packages.cache_clear()
        with pytest.raises(UsageError, match="must be a list"):
            registry.proof_packages()
    finally:
        registry.proof_packages.cache_clear()


def test_the_repository_configures_its_own_proofs_package():
    from checkers.registry import proof_packages

    assert proof_packages() == ("proofs",)
    assert len(sources_digest("proofs")) == 64


def _index_copy(tmp_path, monkeypatch, stale: bool):
    """The proofs package's files copied to tmp_path (the modules imported stay the real ones), index made stale."""
    import shutil

    import checkers.registry as registry

    copy = tmp_path / "proofs"
    shutil.copytree(ROOT / "proofs", copy, ignore=shutil.ignore_patterns("__pycache__"))
    real = registry.package_directory
    monkeypatch.setattr(registry, "package_directory", lambda package: copy if package == "proofs" else real(package))
    if stale:
        doc = json.loads((copy / "gradeable-index.json").read_text(encoding="utf-8"))
        doc["sources"], doc["files"], doc["problems"] = "0" * 64, "0" * 64, doc["problems"][:1]  # an old index
        (copy / "gradeable-index.json").write_text(json.dumps(doc), encoding="utf-8")
    return copy


def test_a_stale_index_is_listed_from_the_declarations_and_rewritten(tmp_path, monkeypatch):
    from checkers.grading.catalog import read_index

    copy = _index_copy(tmp_path, monkeypatch, stale=True)
    entries, rebuilt = read_index()
    assert rebuilt == ["proofs"] and entries == index_entries("proofs")
    assert json.loads((copy / "gradeable-index.json").read_text(encoding="utf-8"))["problems"] == entries
    assert read_index() == (entries, [])  # fresh now: read without importing


def test_a_stale_index_in_a_read_only_install_is_listed_without_writing(tmp_path, monkeypatch, capsys):
    from checkers.grading.cli import _print_problems

    copy = _index_copy(tmp_path, monkeypatch, stale=True)
    before = (copy / "gradeable-index.json").read_bytes()
    real_write = Path.write_text

    def read_only(path, *args, **kwargs):  # root ignores permission bits, so the refusal is simulated
        if path.parent == copy:
            raise PermissionError(30, "Read-only file system", str(path))
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", read_only)
    assert _print_problems() == 0
    out, err = capsys.readouterr()
    assert all(f"{pid} " in out for pid in problems()), out
    assert "not rewritten: Read-only file system" in err
    assert (copy / "gradeable-index.json").read_bytes() == before
    assert sorted(p.name for p in copy.iterdir() if ".tmp" in p.name) == []
