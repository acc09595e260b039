"""Output paths of the grading commands: only regular files are written, temporary files never touch an input."""

import csv
import os
import stat

import pytest

from checkers.cli import main
from checkers.errors import UsageError
from checkers.grading.bulk import grade_csv, journal_path
from checkers.output_files import write_atomic

from answer_csv import read, write

KL = r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)"


def _no_pool(monkeypatch):
    from checkers.grading import bulk

    class Refuse:
        def __init__(self, *a, **k):
            raise AssertionError("grading started although the command should have been refused")

    monkeypatch.setattr(bulk, "GradingPool", Refuse)


def _device_node(folder):
    """A character device 1:3 (what /dev/null is) inside `folder`, or None where this process may not make one."""
    node = folder / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError):
        return None
    return node


def test_targets_that_are_not_regular_files_are_refused(tmp_path, capsys, monkeypatch):
    _no_pool(monkeypatch)
    src = write(tmp_path / "answers.csv", [("a", KL)])
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "to-null").symlink_to(os.devnull)
    # Not os.devnull itself: should the refusal ever break, a test run as root would replace the system's /dev/null.
    targets = [tmp_path / "pipe", tmp_path / "to-null"]
    node = _device_node(tmp_path)
    if node is not None:
        targets.append(node)
    for option in ("--out", "--analysis"):
        for target in targets:
            extra = ["--out", str(tmp_path / "o.csv")] if option == "--analysis" else []
            assert main(["grade", "kl-gaussian", "--csv", str(src), *extra, option, str(target)]) == 2, (option, target)
            err = capsys.readouterr().err
            assert "not a regular file" in err and len(err.strip().splitlines()) == 1, err
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    assert stat.S_ISCHR(os.stat(tmp_path / "to-null").st_mode) and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    if node is not None:
        assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert not (tmp_path / "o.csv").exists()


def test_a_leftover_journal_that_is_a_link_or_not_a_file_is_refused(tmp_path, monkeypatch):
    _no_pool(monkeypatch)
    src = write(tmp_path / "answers.csv", [("a", KL)])
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    out = tmp_path / "o.csv"
    journal_path(out).symlink_to(precious)
    with pytest.raises(UsageError, match="is a link"):
        grade_csv("kl-gaussian", src, out, progress=False)
    journal_path(out).unlink()
    os.mkfifo(journal_path(out))
    with pytest.raises(UsageError, match="not a regular file"):
        grade_csv("kl-gaussian", src, out, progress=False)
    assert precious.read_text() == "keep me\n"


def test_temporary_files_never_overwrite_an_input_or_another_output(tmp_path):
    """The cases that destroyed files when temporaries were named OUT.tmp."""
    victim = write(tmp_path / "victim.csv.tmp", [("a", KL), ("b", KL + " + 1")])
    before = victim.read_bytes()
    grade_csv("kl-gaussian", victim, tmp_path / "victim.csv", workers=1, progress=False)
    assert victim.read_bytes() == before
    assert [r["verdict"] for r in read(tmp_path / "victim.csv")] == ["correct", "incorrect"]

    grade_csv("kl-gaussian", victim, tmp_path / "o.csv", analysis=tmp_path / "victim.csv.tmp.html", workers=1,
              progress=False)  # an analysis whose old temporary name was another file
    page_input = write(tmp_path / "c.html.tmp", [("a", KL)])
    page_before = page_input.read_bytes()
    grade_csv("kl-gaussian", page_input, tmp_path / "c.csv", analysis=tmp_path / "c.html", workers=1, progress=False)
    assert page_input.read_bytes() == page_before and "<html" in (tmp_path / "c.html").read_text()

    grade_csv("kl-gaussian", victim, tmp_path / "g.html.tmp", analysis=tmp_path / "g.html", workers=1, progress=False)
    assert [r["id"] for r in read(tmp_path / "g.html.tmp")] == ["a", "b"]  # the CSV, not replaced by the page
    assert "<html" in (tmp_path / "g.html").read_text()

    precious = tmp_path / "precious.csv"
    precious.write_text("id,answer\nkeep,me\n")
    (tmp_path / "out2.csv.tmp").symlink_to(precious)
    grade_csv("kl-gaussian", victim, tmp_path / "out2.csv", workers=1, progress=False)
    assert precious.read_text() == "id,answer\nkeep,me\n"
    assert len(read(tmp_path / "out2.csv")) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_an_atomic_write_that_fails_leaves_the_target_and_no_temporary(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")

    def boom(f):
        f.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.txt"]
    write_atomic(target, lambda f: f.write("new"))
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()


def _umask():
    current = os.umask(0)
    os.umask(current)
    return current


def test_out_dash_writes_the_graded_csv_to_standard_output(tmp_path, capsys):
    src = write(tmp_path / "answers.csv", [("a", KL), ("b", KL + " + 1")])
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", "-", "--workers", "1"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(captured.out.splitlines()))
    assert [(r["id"], r["verdict"]) for r in rows] == [("a", "correct"), ("b", "incorrect")]
    assert "2 answers: 1 correct, 1 incorrect" in captured.err  # the summary goes to stderr, out of the CSV's way
    assert not list(tmp_path.glob("*.partial.jsonl")) and sorted(p.name for p in tmp_path.iterdir()) == ["answers.csv"]


def test_gradescope_build_writes_through_no_link(tmp_path):
    from checkers.grading import gradescope

    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    (tmp_path / "ag.zip.tmp").symlink_to(precious)
    (tmp_path / "ag-answers.tex").symlink_to(precious)
    gradescope.build(["kl-gaussian"], tmp_path / "ag.zip")
    assert precious.read_text() == "keep me\n"
    assert (tmp_path / "ag-answers.tex").is_file() and not (tmp_path / "ag-answers.tex").is_symlink()
    os.mkfifo(tmp_path / "pipe.zip")
    with pytest.raises(UsageError, match="not a regular file"):
        gradescope.build(["kl-gaussian"], tmp_path / "pipe.zip")


def test_report_documents_replace_a_link_instead_of_writing_through_it(tmp_path):
    from checkers.reporting.build import _write
    from checkers.reporting.latex import copy_atomic

    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    (tmp_path / "hw6.html").symlink_to(precious)
    _write(tmp_path / "hw6.html", "<html></html>")
    assert precious.read_text() == "keep me\n" and (tmp_path / "hw6.html").read_text() == "<html></html>"
    (tmp_path / "hw6.pdf").symlink_to(precious)
    (tmp_path / "built.pdf").write_bytes(b"%PDF")
    copy_atomic(tmp_path / "built.pdf", tmp_path / "hw6.pdf")
    assert precious.read_text() == "keep me\n" and (tmp_path / "hw6.pdf").read_bytes() == b"%PDF"
    os.mkfifo(tmp_path / "index.html")
    with pytest.raises(UsageError, match="not a regular file"):
        _write(tmp_path / "index.html", "<html></html>")
