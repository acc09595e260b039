"""`proofcheck init DIR`: write a new course, a package that declares its problem sets, derivations and gradeable problems.

The skeleton (the files under `skeleton/`, shipped as package data) is a working course: a
pyproject.toml that registers the package in the `proofcheck.proofs` entry-point group, an
`__init__.py` declaring one problem set, one derivation with a claim, its chain of steps, a mutant and
an independent reference, one gradeable problem with a misconception, and tests. `__PACKAGE__`,
`__TITLE__` and `__DATE__` in the files are replaced; `package/` becomes the package's folder.
"""

from __future__ import annotations

import datetime
import keyword
import re
from importlib.resources import files
from pathlib import Path

from checkers.errors import UsageError

SKELETON = "skeleton"


def _package_name(directory: Path) -> str:
    return re.sub(r"\W+", "_", directory.name.lower()).strip("_") or "course"


def check_package_name(name: str) -> str:
    """`name` if it can be a Python package name; UsageError saying what to change otherwise."""
    if not name.isidentifier() or keyword.iskeyword(name) or name != name.lower():
        raise UsageError(f"--package {name!r} is not a lower-case Python identifier (letters, digits and _, not "
                         f"starting with a digit); give one with --package")
    if name in ("checkers", "proofs", "tests"):
        raise UsageError(f"--package {name!r} would shadow a package of proofcheck or the course's tests; choose "
                         f"another name")
    return name


def write_course(directory: str | Path, package: str | None = None, title: str | None = None) -> list[Path]:
    """Write the course skeleton into `directory` (created; it must not exist or be empty); returns the files written."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(f"{directory} already exists and is not an empty folder; give a new folder to `proofcheck init`")
    package = check_package_name(package or _package_name(directory))
    title = title or package.replace("_", " ").capitalize()
    due = (datetime.date.today() + datetime.timedelta(days=14)).isoformat()
    replacements = {"__PACKAGE__": package, "__TITLE__": title, "__DATE__": due}
    written = []
    root = files(__name__) / SKELETON

    def copy(source, relative: Path) -> None:
        for entry in sorted(source.iterdir(), key=lambda e: e.name):
            if entry.name == "__pycache__":
                continue
            name = package if (entry.name == "package" and relative == Path()) else entry.name
            if entry.is_dir():
                copy(entry, relative / name)
                continue
            text = entry.read_text(encoding="utf-8")
            for placeholder, value in replacements.items():
                text = text.replace(placeholder, value)
            target = directory / relative / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)

    copy(root, Path())
    return written


def cmd_init(args) -> int:
    written = write_course(args.directory, args.package, args.title)
    directory = Path(args.directory)
    package = args.package or _package_name(directory)
    print(f"wrote a course in {directory}: {len(written)} files, package {package}")
    print("next:")
    print(f"  pip install -e {directory}        # registers it with proofcheck (entry point proofcheck.proofs)")
    print("  proofcheck verify softplus-derivative")
    print("  proofcheck grade softplus-derivative '\\frac{1}{1 + e^{-x}}'")
    print(f"  python -m pytest -q {directory / 'tests'}")
    return 0


def register(sub) -> None:
    """Add `init` to the proofcheck command line."""
    p = sub.add_parser("init", help="write a new course: a package of derivations and gradeable problems",
                       description="Write a course skeleton into DIR (see README, 'Writing a course').")
    p.add_argument("directory", metavar="DIR", help="the folder to create (must not exist, or be empty)")
    p.add_argument("--package", help="the Python package name (default: DIR's name, lower case, _ for other characters)")
    p.add_argument("--title", help="the course's title (default: from the package name)")
    p.set_defaults(func=cmd_init)
