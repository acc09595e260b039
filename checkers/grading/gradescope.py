"""A Gradescope autograder for proofcheck problems: the zip Gradescope builds from, and the run that grades one submission.

Gradescope's layout (its "autograder specifications"): the uploaded zip is unpacked into
`/autograder/source`; `setup.sh` (zip root) runs once, as root, to build the image; for every
student submission Gradescope copies the submitted files to `/autograder/submission`, runs
`/autograder/run_autograder` (copied from the zip root), and reads `/autograder/results/results.json`.

`build` writes that zip: `setup.sh` (installs Python's packages and the source the zip carries under
`proofcheck/`: proofcheck's code and templates as installed where the zip is built, the configured
proof packages, and a pyproject.toml written for them), `run_autograder`, `autograder.json` (the problems, points, limits and
visibility), and `answers.tex`, the answer sheet students fill in and submit: one labelled slot per
problem (`%% answer: kl-gaussian`, the answer on the lines below it; lines starting with `%` are
comments; a problem with answers under two of its labels is not graded, and says so). The sheet is
found without following links out of the submission or recursing (MAX_DEPTH folders), and read only if
it is a regular file inside the submission, at most MAX_SUBMISSION_BYTES of it. `run` grades one
submission: each slot in a killable worker under the time and memory
limits, and writes one results.json: one test per problem (name, score, max_score, status, output
with the verdict, the feedback and the counterexample, visibility), the total score, execution_time
and a summary. The root is `/autograder` unless `--root` or the AUTOGRADER_ROOT environment variable
names another folder laid out the same way, which is how it is run locally and in the tests.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from checkers.errors import UsageError
from checkers.grading.catalog import get_problem
from checkers.grading.grader import DEFAULT_TIME_LIMIT
from checkers.grading.isolation import DEFAULT_MEMORY_MB, GradingPool, check_limits
from checkers.grading.result import dumps, invalid
from checkers.grading.wording import brief_value, compose_message
from checkers.output_files import check_target, write_atomic, write_text_atomic

ROOT_ENV = "AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"
CONFIG = "autograder.json"
TEMPLATE = "answers.tex"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
MAX_SUBMISSION_BYTES = 1_000_000
LABEL = re.compile(r"^\s*%%\s*answer\s*:\s*(\S+)\s*$", re.IGNORECASE)

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (the zip is in /autograder/source).
# It needs Python >= 3.11: choose Gradescope's Ubuntu 24.04 base image (Python 3.12).
# The environment variables below exist for trying it elsewhere (the tests run it so); Gradescope sets none.
set -euo pipefail
VENV="${PROOFCHECK_VENV:-/autograder/proofcheck-venv}"
SOURCE="${PROOFCHECK_SOURCE:-/autograder/source}"
TORCH_INDEX="${PROOFCHECK_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"  # empty: pip's configured index
if [ -z "${PROOFCHECK_NO_APT:-}" ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-venv python3-pip
fi
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "proofcheck needs Python >= 3.11: use the Ubuntu 24.04 base image")'
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
# torch's CPU build (the autograder has no GPU; the default wheel would pull gigabytes of CUDA libraries).
"$VENV/bin/pip" install --quiet ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} {torch}
"$VENV/bin/pip" install --quiet "$SOURCE/proofcheck"
cd "$SOURCE"
PROOFCHECK_PROOFS={packages} "$VENV/bin/python" -m checkers grade --list
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this once per submission: grade /autograder/submission, write /autograder/results/results.json.
# Locally: AUTOGRADER_ROOT=/path/to/a/folder/laid/out/like/autograder PROOFCHECK_PYTHON=.venv/bin/python bash run_autograder
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${PROOFCHECK_PYTHON:-${PROOFCHECK_VENV:-/autograder/proofcheck-venv}/bin/python}"
export PROOFCHECK_PROOFS="${PROOFCHECK_PROOFS:-{packages}}"  # the proof packages the zip carries
mkdir -p "$ROOT/results"
"$PY" -m checkers gradescope run --root "$ROOT"
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then
  # The grader could not start: say so in the results rather than leaving Gradescope without any.
  printf '{"score": 0.0, "output": "The autograder failed to start (exit %s); this is not your mistake: please tell the course staff.", "visibility": "visible", "tests": []}\n' "$status" > "$ROOT/results/results.json"
fi
exit 0
"""


@dataclass(frozen=True)
class Config:
    problems: tuple[str, ...]
    points: float = 1.0
    time_limit: float = DEFAULT_TIME_LIMIT
    memory_mb: int = DEFAULT_MEMORY_MB
    visibility: str = "visible"

    def to_json(self) -> dict:
        return {"problems": list(self.problems), "points": self.points, "time_limit": self.time_limit,
                "memory_mb": self.memory_mb, "visibility": self.visibility}

    @classmethod
    def from_json(cls, doc: dict) -> Config:
        return cls(tuple(doc["problems"]), float(doc.get("points", 1.0)), float(doc.get("time_limit", DEFAULT_TIME_LIMIT)),
                   int(doc.get("memory_mb", DEFAULT_MEMORY_MB)), doc.get("visibility", "visible"))


def answer_template(problem_ids: list[str] | tuple[str, ...]) -> str:
    """The answer sheet: one labelled slot per problem, with its statement and symbols as comments."""
    lines = ["% proofcheck answer sheet. Write each answer (one formula, LaTeX or plain text) on the lines below the",
             "% label line of its problem (the lines that start with two percent signs); do not change those lines.",
             "% Other lines starting with one percent sign are comments.", ""]
    for pid in problem_ids:
        p = get_problem(pid)
        symbols = ", ".join(s.latex for s in p.symbols if s.listed)
        lines += [f"%% answer: {p.id}", f"% {p.title} [{p.source}]"]
        if p.statement:
            lines += [f"% {line}" for line in p.statement.splitlines()]
        lines += [f"% symbols: {symbols}", "", ""]
    return "\n".join(lines)


def read_slots(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """The answer in each labelled slot (comment lines dropped, the slot's lines joined), and why a problem is not
    graded: one labelled more than once with an answer under more than one of its labels ("two answers for ...").

    A label repeated over empty slots (the sheet pasted twice) is harmless: the one filled slot is the answer.
    """
    slots: list[tuple[str, int, list[str]]] = []  # (problem, line of its label, the slot's lines)
    for number, line in enumerate(text.splitlines(), start=1):
        m = LABEL.match(line)
        if m:
            slots.append((m.group(1), number, []))
            continue
        if not slots or line.lstrip().startswith("%"):
            continue
        slots[-1][2].append(line)
    found: dict[str, list[tuple[int, str]]] = {}
    for pid, number, lines in slots:
        found.setdefault(pid, []).append((number, "\n".join(lines).strip()))
    answers, refused = {}, {}
    for pid, slot_list in found.items():
        filled = [(number, answer) for number, answer in slot_list if answer]
        answers[pid] = filled[0][1] if len(filled) == 1 else ""
        if len(filled) > 1:
            count = {2: "two", 3: "three"}.get(len(filled), str(len(filled)))
            lines = ", ".join(str(n) for n, _ in filled[:-1]) + f" and {filled[-1][0]}"
            refused[pid] = (f"{count} answers for {pid} (below the labels on lines {lines}); it was not graded. Keep "
                            f"one line `%% answer: {pid}` with your one answer below it, and submit again.")
    return answers, refused


def read_answers(text: str) -> dict[str, str]:
    """The answer in each labelled slot (see `read_slots`; a problem with two answers has none)."""
    return read_slots(text)[0]


def _requirements() -> list[str]:
    """proofcheck's own requirements (its installed metadata, extras left out): the bundled source needs the same."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        found = requires("proofcheck") or []
    except PackageNotFoundError:
        raise UsageError("proofcheck is not installed (its metadata is missing): install it, `pip install -e .` in a "
                         "checkout, before building an autograder") from None
    return [r for r in found if ";" not in r or "extra" not in r.split(";", 1)[1]]


def _torch_pin() -> str:
    pins = [r.split(";")[0].strip() for r in _requirements() if re.match(r"torch\b", r)]
    return pins[0] if pins else "torch"


def _version() -> str:
    from importlib.metadata import version

    return version("proofcheck")


def _add_tree(z: zipfile.ZipFile, source: Path, prefix: str, skip: tuple[str, ...] = ()) -> int:
    """Add the files below `source` as `prefix/...` (caches left out); returns how many."""
    count = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if (not path.is_file() or "__pycache__" in relative.parts or relative.parts[0] in skip
                or path.name.endswith((".pyc", ".tmp")) or ".tmp" in path.suffixes):
            continue
        z.write(path, f"{prefix}/{relative.as_posix()}")
        count += 1
    return count


def _pyproject(packages: tuple[str, ...]) -> str:
    """The pyproject.toml of the bundled source: proofcheck's code, its templates and the proof packages."""
    quoted = lambda items: ", ".join(json.dumps(i) for i in items)  # noqa: E731 - TOML strings are JSON strings
    entry_points = "\n".join(f"{json.dumps(p)} = {json.dumps(p)}" for p in packages)
    return f"""# Written by `proofcheck gradescope build`: proofcheck and the course's proof packages, as installed there.
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "proofcheck"
version = {json.dumps(_version())}
requires-python = ">=3.11"
dependencies = [{quoted(_requirements())}]

[project.scripts]
proofcheck = "checkers.cli:main"

[project.entry-points."proofcheck.proofs"]
{entry_points}

[tool.setuptools.packages.find]
include = [{quoted(["checkers", "checkers.*", *packages, *(p + ".*" for p in packages)])}]

[tool.setuptools.package-data]
"checkers.templates" = ["*.j2", "*.css"]
"checkers.templates.serve" = ["*.html", "*.js", "*.css"]
"checkers.init" = ["skeleton/*", "skeleton/*/*"]
"*" = ["*.json"]
"""


def _add_source(z: zipfile.ZipFile, packages: tuple[str, ...]) -> None:
    """proofcheck's source as installed here (editable or not) and the proof packages, under `proofcheck/`."""
    from importlib.resources import files

    from checkers.registry import package_directory
    from checkers.resources import templates_directory

    code = files("checkers")
    if not isinstance(code, Path):
        raise UsageError(f"proofcheck is installed inside an archive ({code}); install it unzipped to build an autograder")
    _add_tree(z, code, "proofcheck/checkers", skip=("templates",))
    _add_tree(z, templates_directory(), "proofcheck/checkers/templates")
    for package in packages:
        _add_tree(z, package_directory(package), f"proofcheck/{package}")
    _add_text(z, "proofcheck/pyproject.toml", _pyproject(packages))


def _add_text(z: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = ((stat.S_IFREG | (0o755 if executable else 0o644)) << 16)
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, text)


def build(problem_ids: list[str], out: str | Path, *, points: float = 1.0, time_limit: float = DEFAULT_TIME_LIMIT,
          memory_mb: int = DEFAULT_MEMORY_MB, visibility: str = "visible") -> Path:
    """Write the autograder zip for `problem_ids`; also writes the answer sheet next to it (OUT-answers.tex)."""
    if not problem_ids:
        raise UsageError("give at least one problem: --problems ID... (see `proofcheck grade --list`)")
    problems = [get_problem(pid) for pid in problem_ids]
    if len(set(problem_ids)) != len(problem_ids):
        raise UsageError(f"--problems lists a problem twice: {' '.join(problem_ids)}")
    check_limits(time_limit, memory_mb)
    if not (points > 0 and points < float("inf")):
        raise UsageError(f"--points must be a positive number (got {points})")
    if visibility not in VISIBILITIES:
        raise UsageError(f"--visibility must be one of {', '.join(VISIBILITIES)} (got {visibility})")
    out = Path(out)
    if out.suffix != ".zip":
        raise UsageError(f"--out must name a .zip file (got {out})")
    sheet = out.with_name(out.stem + "-" + TEMPLATE)
    check_target(out, "--out")
    check_target(sheet, "the answer sheet")
    config = Config(tuple(p.id for p in problems), points, time_limit, memory_mb, visibility)
    template = answer_template(config.problems)
    from checkers.registry import proof_packages

    packages = proof_packages()
    def write_zip(f) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            _add_text(z, "setup.sh", SETUP_SH.replace("{torch}", _torch_pin()).replace("{packages}", ",".join(packages)),
                      executable=True)
            _add_text(z, "run_autograder", RUN_AUTOGRADER.replace("{packages}", ",".join(packages)), executable=True)
            _add_text(z, CONFIG, json.dumps(config.to_json(), indent=1) + "\n")
            _add_text(z, TEMPLATE, template)
            _add_source(z, packages)

    write_atomic(out, write_zip, binary=True)
    write_text_atomic(sheet, template)
    return out


MAX_DEPTH = 16  # folders below the submission that are searched for the answer sheet
MAX_ENTRIES = 10_000  # files and folders looked at, at most


def _walk(folder: Path) -> tuple[list[Path], str]:
    """Every entry under `folder` that is not a folder (links included, never followed), breadth first, to MAX_DEPTH
    levels and MAX_ENTRIES entries; and a note when the search stopped short. Iterative: no depth of nesting
    exhausts the interpreter's stack."""
    files: list[Path] = []
    pending = [(folder, 0)]
    seen, deeper = 0, False
    while pending:
        directory, depth = pending.pop(0)
        try:
            with os.scandir(directory) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError:
            continue
        for entry in listed:
            seen += 1
            if seen > MAX_ENTRIES:
                return files, f"(only the first {MAX_ENTRIES:,} files and folders of the submission were searched)"
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                if depth + 1 < MAX_DEPTH:
                    pending.append((path, depth + 1))
                else:
                    deeper = True
            else:
                files.append(path)
    return files, f"(folders deeper than {MAX_DEPTH} levels were not searched)" if deeper else ""


def _find_submission(folder: Path) -> tuple[Path | None, str]:
    if not folder.is_dir():
        return None, f"no submission folder {folder}"
    named = folder / TEMPLATE
    if os.path.lexists(named):
        return named, ""
    files, cut = _walk(folder)
    candidates = [p for p in files if p.suffix in (".tex", ".txt")]
    if len(candidates) == 1:
        return candidates[0], ""
    found = ", ".join(p.name for p in files)[:300] or "nothing"
    note = f"no {TEMPLATE} was submitted (found: {found}); submit the answer sheet {TEMPLATE} filled in"
    return None, f"{note} {cut}" if cut else note


def _read_submission(path: Path, folder: Path) -> tuple[str | None, str]:
    """The text of the submitted sheet, or None and why it was not read: a link leading out of the submission (to
    /etc/passwd, /proc/...), something that is not a regular file (a pipe would block), over MAX_SUBMISSION_BYTES
    (read only that far, whatever the size the file claims: procfs says 0), unreadable, or not UTF-8."""
    name = path.relative_to(folder).as_posix()
    try:
        if path.is_symlink() and not path.resolve().is_relative_to(folder.resolve()):
            return None, f"{name} is a link to a file outside the submission; it was not read (submit the file itself)"
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None, f"{name} is not a regular file; submit the answer sheet {TEMPLATE} as a plain file"
        with open(path.resolve(), "rb") as f:
            data = f.read(MAX_SUBMISSION_BYTES + 1)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop (pathlib's resolve)
        return None, f"{name} could not be read ({getattr(exc, 'strerror', None) or exc}); submit it again"
    if len(data) > MAX_SUBMISSION_BYTES:
        return None, f"{name} is over {MAX_SUBMISSION_BYTES} bytes, the limit"
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as exc:
        return None, f"{name} is not UTF-8 text ({exc}); save it as UTF-8 and submit it again"


def _test_output(doc: dict) -> str:
    """What the student reads under one problem: the verdict and its reason, feedback the reason does not state, and
    the counterexample once, in full (the instance as drawn, its seed, both values)."""
    cx = doc.get("counterexample")
    if cx and "reason" in doc:  # the counterexample is stated once, in the paragraph below
        head = compose_message(doc["verdict"], doc["reason"], "")
        head += "" if head.endswith((".", ".)")) else "."
    else:  # no counterexample, or a document written before results kept their pieces: its message as it is
        head = doc["message"]
    parts = [head]
    feedback = doc.get("feedback", [])
    stated = doc.get("stated_feedback", [fb["id"] for fb in feedback[:1]])  # an older document stated its first
    for fb in feedback:
        if fb["id"] not in stated:
            parts.append(f"Also: {fb['message']}")
    if cx:
        instance = "; ".join(f"{k} = {v}" for k, v in cx["instance"].items())
        yours = ("Your answer is undefined there" if cx["student"] is None else
                 f"Your answer gives {brief_value(cx['student'])}")
        parts.append(f"Counterexample (seed {cx.get('seed')}): {instance}. {yours}, the reference gives "
                     f"{brief_value(cx['reference'])}.")
    if doc.get("internal_error"):
        parts.append("This is a bug in the grader, not your mistake: the course staff will grade this answer by hand.")
    return "\n\n".join(parts)


def results_document(config: Config, answers: dict[str, str] | None, docs: dict[str, dict], seconds: float,
                     problem_note: str = "") -> dict:
    """One Gradescope results.json for one submission."""
    tests = []
    for number, pid in enumerate(config.problems, start=1):
        problem = get_problem(pid)
        doc = docs.get(pid)
        if doc is None:
            verdict, output = "missing", f"No answer for {pid}: write it below the line `%% answer: {pid}`."
        else:
            verdict, output = doc["verdict"], _test_output(doc)
        correct = verdict == "correct"
        extra = {"problem": pid, "verdict": verdict}
        if doc is not None and doc.get("counterexample"):
            extra["counterexample"] = doc["counterexample"]
        tests.append({"name": f"{pid}: {problem.title}", "number": str(number),
                      "score": config.points if correct else 0.0, "max_score": config.points,
                      "status": "passed" if correct else "failed", "output": output, "output_format": "text",
                      "visibility": config.visibility, "tags": [pid, verdict], "extra_data": extra})
    score = float(sum(t["score"] for t in tests))
    verdicts = [t["extra_data"]["verdict"] for t in tests]
    summary = (f"{score:g} / {config.points * len(tests):g} points: " +
               ", ".join(f"{verdicts.count(v)} {v}" for v in ("correct", "incorrect", "invalid", "missing")
                         if verdicts.count(v)))
    if problem_note:
        summary = f"{problem_note}\n\n{summary}"
    return {"score": score, "execution_time": round(seconds, 3), "output": summary, "output_format": "text",
            "visibility": config.visibility, "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"problems": list(config.problems)}}


def run(root: str | Path | None = None) -> dict:
    """Grade the one submission under `root` (default $AUTOGRADER_ROOT or /autograder); writes results/results.json."""
    began = time.perf_counter()
    root = Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    config_path = root / "source" / CONFIG
    if not config_path.is_file():
        raise UsageError(f"{config_path} is missing: {root} is not laid out like /autograder (source/{CONFIG}, "
                         f"submission/, results/)")
    config = Config.from_json(json.loads(config_path.read_text(encoding="utf-8")))
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    path, note = _find_submission(root / "submission")
    answers: dict[str, str] | None = None
    refused: dict[str, str] = {}
    if path is not None:
        text, note = _read_submission(path, root / "submission")
        if text is not None:
            answers, refused = read_slots(text)
    docs: dict[str, dict] = {}
    if answers is not None:
        import torch

        torch.set_num_threads(1)
        for pid in config.problems:
            if pid in refused:
                docs[pid] = invalid(pid, "", refused[pid], cause="answer slot refused").to_json()
                continue
            text = answers.get(pid, "")
            if not text:
                continue
            with GradingPool(pid, workers=1, time_limit=config.time_limit, memory_mb=config.memory_mb,
                             symbolic=False, explain=True) as pool:
                docs[pid] = pool.grade(text)
        unknown = sorted(set(answers) - set(config.problems))
        if unknown:
            note = f"Slots for problems this assignment does not have were ignored: {', '.join(unknown)}."
    doc = results_document(config, answers, docs, time.perf_counter() - began, note)
    write_text_atomic(results / "results.json", dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return doc
