r"""proofcheck as it ships: its wheel installed outside the checkout, and its Gradescope zip installed by its own setup.sh.

Both are slow (they build and install into fresh virtual environments) and run in `make test`. What
each one installs fresh and what it reuses from the development environment is said in its docstring.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from checkers.grading.gradescope import answer_template

ROOT = Path(__file__).resolve().parent.parent
KL = r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)"
DENSITY = r"\frac{1}{(2\pi)^{n/2}\sqrt{\det\Sigma}}\exp\left(-\frac12(x-b)^\top\Sigma^{-1}(x-b)\right)"
DENSITY_WRONG = r"\frac{1}{(2\pi)^{n/2}\det\Sigma}\exp\left(-\frac12(x-b)^\top\Sigma^{-1}(x-b)\right)"  # no square root
SERVE_START_TIMEOUT = 240  # seconds for a server to be warm (a loaded machine imports torch slowly)

pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `command`; fail with its output when it exits non-zero."""
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(command)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def clean_environment(**extra: str) -> dict:
    """os.environ without what points at the checkout or a proof package (PYTHONPATH, PROOFCHECK_PROOFS)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PROOFCHECK_PROOFS", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def source_copy(destination: Path) -> Path:
    """The working tree's files as a clone has them (tracked, plus new files git does not ignore), copied."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_list(python: Path, cwd: Path, env: dict) -> list[str]:
    """Start `proofcheck serve` with `python`, wait until warm, read /api/problems, stop it; the problem ids."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with log.open("w") as out:
        server = subprocess.Popen([str(python), "-m", "checkers", "serve", "--port", str(port), "--workers", "1"],
                                  cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVE_START_TIMEOUT
        while True:
            assert server.poll() is None, f"the server exited with {server.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the server was not warm within {SERVE_START_TIMEOUT} s:\n{log.read_text()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as answer:
                    if json.load(answer)["ready"]:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/problems", timeout=30) as answer:
            problems = [p["id"] for p in json.load(answer)["problems"]]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as answer:
            assert b"<html" in answer.read().lower()  # the page comes from the installed templates
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return problems


def venv_with_development_dependencies(directory: Path, process_pth_files: bool) -> Path:
    """A new virtual environment (no pip of its own) that sees the development environment's packages after its own.

    With `process_pth_files` the development site-packages is a site directory (its .pth files run,
    so the checkout's editable proofcheck is importable); without, it is a plain path entry (only the
    dependencies: an installed proofcheck of the new environment comes first, and the editable one's
    import hook is never installed). Returns the new environment's python.
    """
    run([sys.executable, "-m", "venv", "--without-pip", str(directory)], cwd=directory.parent)
    python = directory / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=directory.parent).stdout.strip())
    development = sysconfig.get_paths()["purelib"]
    line = f"import site; site.addsitedir({development!r})" if process_pth_files else development
    (site / "zz_development_dependencies.pth").write_text(line + "\n")
    return python


# -- the wheel ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """proofcheck's wheel, built from a copy of the working tree and installed in a new venv; its python, a folder.

    Fresh: the wheel (built with `pip wheel --no-deps` from the copy, never from the checkout's
    build leftovers) and the venv it is installed in. Reused: the dependencies (torch, sympy, ...)
    are the development environment's, seen through a .pth path entry, so this checks what the
    wheel carries, not dependency resolution (the Gradescope test below installs those with pip).
    """
    base = tmp_path_factory.mktemp("wheel")
    began = time.perf_counter()
    source = source_copy(base / "source")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(base / "dist"),
         str(source)], cwd=base)
    (wheel,) = (base / "dist").glob("proofcheck-*.whl")
    python = venv_with_development_dependencies(base / "venv", process_pth_files=False)
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)], cwd=base)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    print(f"wheel built and installed in {time.perf_counter() - began:.1f} s")
    return python, elsewhere, wheel


def test_the_wheel_carries_every_subpackage_the_templates_and_the_index(installed_wheel):
    _, _, wheel = installed_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("checkers/grading/gradescope.py", "checkers/reporting/build.py", "checkers/serve/app.py",
                 "checkers/templates/report.html.j2", "checkers/templates/serve/serve.js",
                 "checkers/templates/serve/index.html", "checkers/init/skeleton/package/softplus.py",
                 "proofs/gradeable-index.json", "proofs/kl_gaussian.py"):
        assert name in names, name
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "[proofcheck.proofs]\nproofs = proofs" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_every_command_works_from_another_folder(installed_wheel):
    python, elsewhere, _ = installed_wheel
    env = clean_environment()
    proofcheck = [str(python.parent / "proofcheck")]
    where = run([str(python), "-c", "import checkers, proofs; print(checkers.__file__, proofs.__file__)"],
                cwd=elsewhere, env=env).stdout
    assert str(ROOT) not in where and str(python.parent.parent) in where, where  # the wheel's copy, not the checkout

    listing = run(proofcheck + ["grade", "--list"], cwd=elsewhere, env=env)
    assert "kl-gaussian" in listing.stdout and "out of date" not in listing.stderr, listing.stderr
    graded = run(proofcheck + ["grade", "kl-gaussian", KL], cwd=elsewhere, env=env)
    assert graded.stdout.startswith("kl-gaussian: correct"), graded.stdout
    verified = run(proofcheck + ["verify", "alexnet-ops"], cwd=elsewhere, env=env)
    assert "PASSED" in verified.stdout
    run(proofcheck + ["report", "--set", "hw7-2024", "--format", "html", "--out", "reports"], cwd=elsewhere, env=env)
    report = (elsewhere / "reports" / "hw7-2024.html").read_text(encoding="utf-8")
    assert "Homework 7 (due 2024-04-29)" in report and "AlexNet" in report
    run(proofcheck + ["gradescope", "build", "--problems", "kl-gaussian", "--out", "autograder.zip"], cwd=elsewhere,
        env=env)
    with zipfile.ZipFile(elsewhere / "autograder.zip") as z:
        assert {"setup.sh", "proofcheck/pyproject.toml", "proofcheck/checkers/templates/report.html.j2",
                "proofcheck/proofs/kl_gaussian.py"} <= set(z.namelist())
    assert "kl-gaussian" in serve_and_list(python, elsewhere, env)


def local_package_index() -> bool:
    """Whether pip is configured with its own index or wheel folder (as on a machine without network)."""
    configured = run([sys.executable, "-m", "pip", "config", "list"], cwd=ROOT).stdout
    return any(key in configured for key in ("find-links", "index-url")) or any(
        os.environ.get(name) for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"))


# -- the Gradescope zip ------------------------------------------------------------------------------------------
def test_the_autograder_zip_installs_itself_and_grades_a_submission(tmp_path):
    """setup.sh, run as written, then run_autograder on a filled-in answer sheet: full marks for right answers.

    setup.sh runs with its venv and source paths pointed at tmp_path (PROOFCHECK_VENV,
    PROOFCHECK_SOURCE), without apt-get (PROOFCHECK_NO_APT: Python 3.11 is already here), and, where
    pip is configured with a local index (this machine: no network, the CPU build in a wheel folder),
    with that index for torch (PROOFCHECK_TORCH_INDEX empty) instead of download.pytorch.org. Everything else, creating the venv, installing torch and
    the zip's proofcheck source with all its dependencies by pip, and the `grade --list` check, runs
    as Gradescope runs it. What was not run here: Gradescope's Ubuntu 24.04 image with Python 3.12,
    apt-get, and torch from download.pytorch.org.
    """
    problems = ["kl-gaussian", "gaussian-density"]
    zip_path = tmp_path / "autograder.zip"
    run([sys.executable, "-m", "checkers", "gradescope", "build", "--problems", *problems, "--out", str(zip_path),
         "--points", "2"], cwd=tmp_path, env=clean_environment())
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    venv = tmp_path / "proofcheck-venv"
    env = clean_environment(PROOFCHECK_VENV=str(venv), PROOFCHECK_SOURCE=str(root / "source"), PROOFCHECK_NO_APT="1")
    if local_package_index():
        env["PROOFCHECK_TORCH_INDEX"] = ""  # pip's configured (local) index has the CPU build; no network here
    began = time.perf_counter()
    setup = run(["bash", str(root / "source" / "setup.sh")], cwd=tmp_path, env=env, timeout=1800)
    print(f"setup.sh ran in {time.perf_counter() - began:.1f} s")
    assert "kl-gaussian" in setup.stdout and "gaussian-density" in setup.stdout
    installed = run([str(venv / "bin" / "python"), "-c", "import checkers; print(checkers.__file__)"], cwd=tmp_path,
                    env=env).stdout
    assert str(venv) in installed and str(ROOT) not in installed, installed

    def grade(answers: dict[str, str]) -> dict:
        sheet = answer_template(problems)
        for pid, answer in answers.items():
            sheet = sheet.replace(f"%% answer: {pid}\n", f"%% answer: {pid}\n{answer}\n")
        shutil.rmtree(root / "submission", ignore_errors=True)
        shutil.rmtree(root / "results", ignore_errors=True)
        (root / "submission").mkdir()
        (root / "submission" / "answers.tex").write_text(sheet, encoding="utf-8")
        run(["bash", str(root / "run_autograder")], cwd=tmp_path,
            env=clean_environment(AUTOGRADER_ROOT=str(root), PROOFCHECK_VENV=str(venv)))
        return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))

    from test_gradescope import validate_results

    doc = grade({"kl-gaussian": KL, "gaussian-density": DENSITY})
    validate_results(doc)
    assert doc["score"] == 4.0 and [t["status"] for t in doc["tests"]] == ["passed", "passed"], doc
    doc = grade({"kl-gaussian": KL, "gaussian-density": DENSITY_WRONG})
    validate_results(doc)
    assert doc["score"] == 2.0 and [t["status"] for t in doc["tests"]] == ["passed", "failed"], doc
    assert "square root" in doc["tests"][1]["output"]
