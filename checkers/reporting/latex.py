"""PDF from LaTeX with `latexmk -pdf`, skipped when the document and its figures have not changed.

Each document is compiled in its own build directory (aux files stay out of `reports/`). Next to
the build, a stamp holds the sha256 of the .tex and of every figure it includes; a rebuild whose
inputs hash to the stamp, with the PDF still in place, runs no LaTeX at all.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from checkers.errors import ReportError
from checkers.output_files import copy_atomic

__all__ = ["TEX_PACKAGES", "compile_pdf", "latex_available", "missing_latex_message"]

TEX_PACKAGES = ("texlive-latex-recommended", "latexmk", "lmodern")  # Debian/Ubuntu package names
LATEXMK_TIMEOUT = 300


def latex_available() -> bool:
    return shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


def missing_latex_message() -> str:
    return (f"latexmk and pdflatex are needed for PDF reports: install {' '.join(TEX_PACKAGES)} "
            f"(apt-get install --no-install-recommends {' '.join(TEX_PACKAGES)}), or use --format html")


def _digest(tex: bytes, inputs: list[Path]) -> str:
    digest = hashlib.sha256(tex)
    for path in sorted(inputs):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _log_excerpt(log: Path, limit: int = 25) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log written)"
    hits = [i for i, line in enumerate(lines) if line.startswith("!") or re.match(r"^\S+\.tex:\d+:", line)]
    if not hits:
        return "\n".join(lines[-limit:])
    first = hits[0]
    return "\n".join(lines[first:first + limit])


def compile_pdf(tex: str, name: str, build_dir: Path, target: Path, inputs: list[Path]) -> bool:
    """Write `name`.tex into `build_dir`, compile it to `target` unless unchanged; True when LaTeX ran.

    `inputs` are the files the document includes (figures, relative to `build_dir`).
    """
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{name}.tex"
    stamp = build_dir / f"{name}.stamp"
    data = tex.encode()
    digest = _digest(data, inputs)
    pdf = build_dir / f"{name}.pdf"
    if stamp.exists() and stamp.read_text().strip() == digest and pdf.exists():
        # Unchanged document: no LaTeX run, but the target may be stale (built into another --out).
        if not target.is_file() or target.read_bytes() != pdf.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            copy_atomic(pdf, target)
        return False
    if not latex_available():
        raise ReportError(missing_latex_message())
    source.write_bytes(data)
    command = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error", "-quiet",
               f"{name}.tex"]
    try:
        proc = subprocess.run(command, cwd=build_dir, capture_output=True, text=True, errors="replace",
                              timeout=LATEXMK_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise ReportError(f"latexmk on {source} ran past {LATEXMK_TIMEOUT} s") from exc
    if proc.returncode != 0 or not pdf.exists():
        raise ReportError(f"LaTeX failed on {source} (exit {proc.returncode}):\n{_log_excerpt(build_dir / f'{name}.log')}")
    target.parent.mkdir(parents=True, exist_ok=True)
    copy_atomic(pdf, target)
    stamp.write_text(digest + "\n")
    return True
