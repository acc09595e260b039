r"""A second course: `proofcheck init`, `pip install -e`, then verify, grade, report and serve show it, with no edit under checkers/.

Slow (a new virtual environment, an editable install, a verification, a report, a server): runs in
`make test`. The new venv reuses the development environment's packages (proofcheck included, the
checkout's editable install) through a site directory; what is installed fresh is the course, by
`pip install -e` through its own pyproject.toml and entry point.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from test_install import clean_environment, run, serve_and_list, venv_with_development_dependencies

from checkers.init import check_package_name, write_course
from checkers.errors import UsageError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course written by `proofcheck init` and installed with `pip install -e` in a new venv; (python, folder)."""
    base = tmp_path_factory.mktemp("course")
    began = time.perf_counter()
    python = venv_with_development_dependencies(base / "venv", process_pth_files=True)
    run([str(python), "-m", "checkers", "init", str(base / "mlcourse"), "--title", "Machine learning"], cwd=base,
        env=clean_environment())
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-build-isolation",
         "--quiet", "-e", str(base / "mlcourse")], cwd=base)
    print(f"course written and installed in {time.perf_counter() - began:.1f} s")
    elsewhere = base / "elsewhere"  # not the course folder's parent: `python -m` would import that folder
    elsewhere.mkdir()
    return python, elsewhere


def test_the_course_is_listed_beside_the_bundled_one(course):
    python, base = course
    listing = run([str(python), "-m", "checkers", "grade", "--list"], cwd=base, env=clean_environment()).stdout
    assert "softplus-derivative" in listing and "[hw1 P1]" in listing and "kl-gaussian" in listing


def test_the_course_alone_verifies_grades_reports_and_serves(course):
    python, base = course
    env = clean_environment(PROOFCHECK_PROOFS="mlcourse")
    proofcheck = [str(python), "-m", "checkers"]
    verified = run(proofcheck + ["verify"], cwd=base, env=env).stdout
    assert "softplus-derivative" in verified and "PASSED: 1/1 claims in 1 derivations" in verified
    right = run(proofcheck + ["grade", "softplus-derivative", r"\frac{e^x}{1 + e^x}"], cwd=base, env=env).stdout
    assert right.startswith("softplus-derivative: correct"), right
    wrong = subprocess.run(proofcheck + ["grade", "softplus-derivative", r"\frac{1}{1 + e^{x}}"], cwd=base, env=env,
                           capture_output=True, text=True)
    assert wrong.returncode == 1 and "inner derivative" in wrong.stdout, wrong.stdout + wrong.stderr
    run(proofcheck + ["report", "--set", "hw1", "--format", "html", "--out", "reports"], cwd=base, env=env)
    report = (base / "reports" / "hw1.html").read_text(encoding="utf-8")
    assert "Homework 1 (due " in report and "Problem 1: The derivative of softplus" in report
    assert serve_and_list(python, base, env) == ["softplus-derivative"]


def test_running_from_the_course_folders_parent_says_what_is_wrong(course):
    python, base = course
    proc = subprocess.run([str(python), "-m", "checkers", "verify"], cwd=base.parent,
                          env=clean_environment(PROOFCHECK_PROOFS="mlcourse"), capture_output=True, text=True)
    assert proc.returncode == 2 and "has no __init__.py" in proc.stderr and "another folder" in proc.stderr, proc.stderr


def test_the_courses_own_tests_pass(course):
    python, base = course
    run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=base.parent / "mlcourse",
        env=clean_environment())


def test_init_refuses_a_folder_in_use_and_a_bad_package_name(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not an empty folder"):
        write_course(tmp_path / "taken")
    for name in ("2fast", "Course", "checkers", "class"):
        with pytest.raises(UsageError, match=name):
            check_package_name(name)
    assert not (tmp_path / "new").exists()
