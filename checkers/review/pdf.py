r"""The submission typeset as a PDF, where that is safe: a copy of the .tex alone in an empty folder, compiled by
`latexmk -pdf` with shell escape off and TeX's paranoid file access (openin_any=p, openout_any=p: no absolute
paths, no `..`, no dot files), under a time limit and a memory limit, in its own process group.

`\write18{...}` is never run and `\input{/etc/passwd}` cannot be read: TeX refuses the name, LaTeX stops
(`-halt-on-error`) and no PDF is written; the review says why. Only the PDF leaves the folder.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TIME_LIMIT = 60.0  # seconds for the whole latexmk run
MEMORY_BYTES = 2 * 2 ** 30  # address space of the TeX processes
SAFE_ENVIRONMENT = {"openin_any": "p", "openout_any": "p", "shell_escape": "f", "shell_escape_commands": ""}


@dataclass(frozen=True)
class PdfResult:
    """Where the PDF was written (None if it was not) and what happened, in one sentence."""

    path: Path | None
    message: str


def _limits() -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (int(TIME_LIMIT), int(TIME_LIMIT) + 1))


def _first_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").split("\n")
    except OSError:
        return "LaTeX wrote no log"
    for line in lines:
        located = re.match(r"^\./submission\.tex:(\d+): (.*)", line)
        if located:
            return f"line {located.group(1)}: {located.group(2).strip()[:200]}"
        if line.startswith("!"):
            return line[1:].strip()[:200]
    return "LaTeX stopped without a message"


def build_pdf(tex: Path, out_dir: Path, *, time_limit: float = TIME_LIMIT) -> PdfResult:
    """Typeset `tex` safely into out_dir/<name>.pdf (see the module docstring); never raises for what the file holds."""
    latexmk = shutil.which("latexmk")
    if latexmk is None or shutil.which("pdflatex") is None:
        return PdfResult(None, "no PDF: latexmk and pdflatex are not installed")
    with tempfile.TemporaryDirectory(prefix="proofcheck-review-tex-") as folder:
        source = Path(folder) / "submission.tex"
        shutil.copyfile(tex, source)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("TEXMF", "TEXINPUTS"))}
        env.update(SAFE_ENVIRONMENT)
        command = [latexmk, "-pdf", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                   "-file-line-error", source.name]
        process = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=_limits)
        try:
            process.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return PdfResult(None, f"no PDF: LaTeX ran past the time limit of {time_limit:g} s and was stopped")
        built = source.with_suffix(".pdf")
        if process.returncode != 0 or not built.exists():
            return PdfResult(None, f"no PDF: LaTeX stopped: {_first_error(source.with_suffix('.log'))}")
        target = out_dir / f"{tex.stem}.pdf"
        shutil.copyfile(built, target)
        return PdfResult(target, f"typeset as {target.name} (shell escape off, no file outside its folder read)")
