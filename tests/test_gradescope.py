r"""The Gradescope autograder: the zip's layout, and run_autograder on a folder laid out like /autograder."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from checkers.cli import main
from checkers.grading.gradescope import Config, answer_template, read_answers

ROOT = Path(__file__).resolve().parent.parent
KL = r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)"
DENSITY_WRONG = r"\frac{1}{(2\pi)^{n/2}\det\Sigma}\exp\left(-\frac12(x-b)^\top\Sigma^{-1}(x-b)\right)"  # no square root

# Gradescope's results.json specification (the fields it reads; everything else is rejected here).
TOP_LEVEL = {"score": (int, float), "execution_time": (int, float), "output": str, "output_format": str,
             "test_output_format": str, "test_name_format": str, "visibility": str, "stdout_visibility": str,
             "extra_data": dict, "tests": list, "leaderboard": list}
TEST_FIELDS = {"score": (int, float), "max_score": (int, float), "status": str, "name": str, "name_format": str,
               "number": str, "output": str, "output_format": str, "tags": list, "visibility": str,
               "extra_data": dict}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def validate_results(doc: dict) -> None:
    """Assert that `doc` is a results.json Gradescope accepts."""
    assert isinstance(doc, dict)
    assert set(doc) <= set(TOP_LEVEL), set(doc) - set(TOP_LEVEL)
    for key, value in doc.items():
        assert isinstance(value, TOP_LEVEL[key]), (key, value)
    assert "score" in doc or all("score" in t for t in doc.get("tests", []))
    for key in ("visibility", "stdout_visibility"):
        assert doc.get(key, "visible") in VISIBILITY
    assert doc.get("output_format", "text") in FORMATS
    for t in doc.get("tests", []):
        assert set(t) <= set(TEST_FIELDS), set(t) - set(TEST_FIELDS)
        for key, value in t.items():
            assert isinstance(value, TEST_FIELDS[key]), (key, value)
        assert t.get("status", "passed") in {"passed", "failed"}
        assert t.get("visibility", "visible") in VISIBILITY and t.get("output_format", "text") in FORMATS
        assert 0 <= t["score"] <= t["max_score"]
    if "score" in doc and doc.get("tests"):
        assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))


def _strict(text):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "autograder.zip"
    assert main(["gradescope", "build", "--problems", "kl-gaussian", "gaussian-density", "--out", str(out),
                 "--points", "2", "--time-limit", "2"]) == 0
    return out


def _autograder_root(tmp_path, zip_path, submission: dict[str, str] | None) -> Path:
    """A folder laid out like /autograder: source/ (the unpacked zip), run_autograder, submission/, results/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for name, text in (submission or {}).items():
        (root / "submission" / name).write_text(text, encoding="utf-8")
    return root


def _run(root: Path) -> dict:
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), PROOFCHECK_PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(root / "run_autograder")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return _strict((root / "results" / "results.json").read_text(encoding="utf-8"))


def test_the_zip_has_gradescopes_layout(autograder):
    with zipfile.ZipFile(autograder) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "autograder.json", "answers.tex"} <= names
        assert "proofcheck/pyproject.toml" in names and "proofcheck/checkers/grading/gradescope.py" in names
        assert not any("__pycache__" in n for n in names)
        for script in ("setup.sh", "run_autograder"):
            mode = z.getinfo(script).external_attr >> 16
            assert mode & stat.S_IXUSR, f"{script} is not executable"
            assert z.read(script).startswith(b"#!/usr/bin/env bash\n")
        assert b"download.pytorch.org/whl/cpu}" in z.read("setup.sh") and b" torch==" in z.read("setup.sh")
        config = json.loads(z.read("autograder.json"))
    assert config["problems"] == ["kl-gaussian", "gaussian-density"] and config["points"] == 2.0
    sheet = autograder.with_name("autograder-answers.tex").read_text()
    assert sheet.count("%% answer: ") == 2 and "%% answer: kl-gaussian" in sheet
    assert read_answers(sheet) == {"kl-gaussian": "", "gaussian-density": ""}  # the slots start empty


def test_run_autograder_grades_one_submission(tmp_path, autograder):
    sheet = answer_template(["kl-gaussian", "gaussian-density"])
    filled = sheet.replace("%% answer: kl-gaussian\n", f"%% answer: kl-gaussian\n{KL}\n").replace(
        "%% answer: gaussian-density\n", f"%% answer: gaussian-density\n{DENSITY_WRONG}\n")
    doc = _run(_autograder_root(tmp_path, autograder, {"answers.tex": filled}))
    validate_results(doc)
    assert [t["name"].split(":")[0] for t in doc["tests"]] == ["kl-gaussian", "gaussian-density"]
    kl, density = doc["tests"]
    assert kl["status"] == "passed" and kl["score"] == 2.0 and kl["max_score"] == 2.0
    assert density["status"] == "failed" and density["score"] == 0.0
    assert "square root" in density["output"] and "Counterexample" in density["output"]
    assert "n = " in density["output"] and density["extra_data"]["counterexample"]["instance"]
    assert doc["score"] == 2.0 and doc["execution_time"] > 0 and "2 / 4 points" in doc["output"]


def test_a_missing_answer_sheet_or_slot_scores_zero_with_a_reason(tmp_path, autograder):
    doc = _run(_autograder_root(tmp_path / "a", autograder, {"notes.pdf": "%PDF"}))
    validate_results(doc)
    assert doc["score"] == 0.0 and "no answers.tex was submitted" in doc["output"]
    assert all(t["status"] == "failed" and t["extra_data"]["verdict"] == "missing" for t in doc["tests"])
    only_kl = f"%% answer: kl-gaussian\n{KL}\n%% answer: not-a-problem\nx\n"
    doc = _run(_autograder_root(tmp_path / "b", autograder, {"mine.tex": only_kl}))
    validate_results(doc)
    assert [t["extra_data"]["verdict"] for t in doc["tests"]] == ["correct", "missing"]
    assert "not-a-problem" in doc["output"]


def test_build_refuses_bad_options_before_writing(tmp_path, capsys):
    out = tmp_path / "a.zip"
    assert main(["gradescope", "build", "--problems", "no-such", "--out", str(out)]) == 2
    assert main(["gradescope", "build", "--problems", "kl-gaussian", "--out", str(tmp_path / "x" / "a.zip")]) == 2
    assert main(["gradescope", "build", "--problems", "kl-gaussian", "--out", str(out), "--visibility", "soon"]) == 2
    assert main(["gradescope", "build", "--problems", "kl-gaussian", "--out", str(out), "--time-limit", "nan"]) == 2
    assert not out.exists()


def test_two_answers_under_one_problems_label_are_named_not_joined(tmp_path, autograder):
    from checkers.grading import gradescope

    twice = f"%% answer: kl-gaussian\n{KL}\n%% answer: gaussian-density\nx\n%% answer: kl-gaussian\n{KL}\n"
    doc = gradescope.run(_autograder_root(tmp_path / "a", autograder, {"answers.tex": twice}))
    validate_results(doc)
    kl = doc["tests"][0]
    assert kl["score"] == 0.0 and "two answers for kl-gaussian" in kl["output"] and "lines 1 and 5" in kl["output"]
    assert kl["extra_data"]["verdict"] == "invalid"
    # A label repeated over an empty slot (the sheet pasted twice) is one answer, graded.
    once = f"%% answer: kl-gaussian\n{KL}\n%% answer: kl-gaussian\n% a comment\n\n"
    doc = gradescope.run(_autograder_root(tmp_path / "b", autograder, {"answers.tex": once}))
    assert doc["tests"][0]["extra_data"]["verdict"] == "correct"


def _root_with(tmp_path, autograder, make):
    root = _autograder_root(tmp_path, autograder, None)
    make(root / "submission")
    return root


def test_a_deeply_nested_submission_is_searched_to_a_depth_not_to_a_crash(tmp_path, autograder):
    from checkers.grading import gradescope

    def deep(folder):
        os.chdir(folder)  # build 1,200 levels relative to the last one (a path that long exceeds PATH_MAX)
        for _ in range(1200):
            os.mkdir("d")
            os.chdir("d")
        Path("answers.tex").write_text(f"%% answer: kl-gaussian\n{KL}\n")

    def remove(folder):  # shutil.rmtree (and so pytest's clean-up) recurses once per level: remove it level by level
        os.chdir(folder)
        levels = 0
        while os.path.isdir("d"):
            os.chdir("d")
            levels += 1
        os.remove("answers.tex")
        for _ in range(levels):
            os.chdir("..")
            os.rmdir("d")

    cwd = os.getcwd()
    try:
        root = _root_with(tmp_path, autograder, deep)
    finally:
        os.chdir(cwd)
    try:
        doc = gradescope.run(root)
    finally:
        try:
            remove(root / "submission")
        finally:
            os.chdir(cwd)
    validate_results(doc)
    assert doc["score"] == 0.0 and "no answers.tex was submitted" in doc["output"]
    assert "deeper than" in doc["output"]


@pytest.mark.parametrize("target", ["/proc/self/pagemap", "/etc/passwd", "../../outside.tex"])
def test_links_leading_out_of_the_submission_are_not_read(tmp_path, autograder, target):
    from checkers.grading import gradescope

    (tmp_path / "outside.tex").write_text(f"%% answer: kl-gaussian\n{KL}\n")  # would score if it were read
    root = _root_with(tmp_path, autograder, lambda s: (s / "answers.tex").symlink_to(target))
    doc = gradescope.run(root)
    validate_results(doc)
    assert doc["score"] == 0.0 and "answers.tex is a link to a file outside the submission" in doc["output"]
    nested = _root_with(tmp_path / "n", autograder, lambda s: ((s / "sub").mkdir(), (s / "sub" / "mine.tex").symlink_to(
        target if target.startswith("/") else "../" + target)))
    doc = gradescope.run(nested)
    assert doc["score"] == 0.0 and "mine.tex is a link to a file outside the submission" in doc["output"]


def test_links_inside_the_submission_and_special_files(tmp_path, autograder):
    from checkers.grading import gradescope

    def inside(s):
        (s / "work").mkdir()
        (s / "work" / "final.tex").write_text(f"%% answer: kl-gaussian\n{KL}\n")
        (s / "answers.tex").symlink_to("work/final.tex")

    doc = gradescope.run(_root_with(tmp_path / "a", autograder, inside))
    assert doc["tests"][0]["extra_data"]["verdict"] == "correct"
    doc = gradescope.run(_root_with(tmp_path / "b", autograder, lambda s: os.mkfifo(s / "answers.tex")))
    validate_results(doc)  # a pipe is never opened (reading it would wait forever)
    assert doc["score"] == 0.0 and "answers.tex is not a regular file" in doc["output"]


def test_feedback_the_message_already_states_is_not_repeated():
    from checkers.grading.feedback import Feedback
    from checkers.grading.gradescope import Config, results_document
    from checkers.grading.result import GradeResult

    result = GradeResult("kl-gaussian", "x", "incorrect", "the second one", where="d = 1",
                         feedback=[Feedback("first", "the first one"), Feedback("second", "the second one")],
                         counterexample={"instance": {"d": 1}, "student": 1.0, "reference": 2.0, "seed": 7},
                         stated_feedback=("second",))
    (test,) = results_document(Config(("kl-gaussian",)), None, {"kl-gaussian": result.to_json()}, 0.1)["tests"]
    assert test["output"].count("the second one") == 1 and test["output"].count("Also: the first one") == 1
    old = {k: v for k, v in result.to_json().items() if k not in ("stated_feedback", "reason", "where")}
    old["feedback"] = old["feedback"][::-1]  # a document written before stated_feedback stated its first item
    (test,) = results_document(Config(("kl-gaussian",)), None, {"kl-gaussian": old}, 0.1)["tests"]
    assert test["output"].count("the second one") == 1 and test["output"].count("Also: the first one") == 1


def test_the_student_reads_the_counterexample_once_in_full():
    from checkers.grading.grader import grade_in_process
    from checkers.grading.gradescope import results_document

    wrong = grade_in_process("gaussian-density", DENSITY_WRONG, symbolic=False).to_json()
    undefined = grade_in_process("kl-gaussian", KL + r" + \operatorname{tr}((\Sigma_0 - \Sigma_0)^{-1})",
                                 symbolic=False).to_json()
    config = Config(problems=("gaussian-density", "kl-gaussian"))
    density, kl = results_document(config, None, {"gaussian-density": wrong, "kl-gaussian": undefined}, 1.0)["tests"]
    text = density["output"]
    assert text.count("Counterexample") == 1 and "square root" in text
    assert f"(seed {wrong['counterexample']['seed']})" in text
    assert text.startswith("incorrect: your answer is the reference without the square root")
    assert "Your answer gives" in text and "None" not in text
    assert kl["extra_data"]["verdict"] == "incorrect" and "undefined" in kl["output"] and "None" not in kl["output"]
    # A document written before results kept their pieces is shown as it was: its message, then the paragraph.
    old = {k: v for k, v in wrong.items() if k not in ("reason", "stated_feedback", "where")}
    old_text = results_document(config, None, {"gaussian-density": old}, 1.0)["tests"][0]["output"]
    assert old_text.startswith(wrong["message"])
