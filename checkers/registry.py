"""Discovery of content: the proof packages are configuration, and each of their modules may expose DERIVATIONS and GRADEABLE.

proofcheck never imports a course's mathematics by name. The packages to load are configured, the
way pytest finds plugins, from (first match wins):

1. the environment variable ``PROOFCHECK_PROOFS`` (comma-separated package names);
2. ``[tool.proofcheck] proof-packages = ["proofs"]`` in the nearest ``pyproject.toml`` above the
   working directory;
3. the entry point group ``proofcheck.proofs`` of installed distributions (each entry's value is a
   package name), so a course package can register itself with ``pip install``.

Every module of every configured package is imported in name order; its ``DERIVATIONS`` (a tuple of
`Derivation`) and ``GRADEABLE`` (a tuple of `checkers.grading.problem.Problem`) are collected. What is
about the course as a whole is declared in the package's ``__init__`` (imported without its modules):
``PROBLEM_SETS`` (a tuple of `checkers.ProblemSet`: titles, dates, numbering, in course order) and
``WARM_FIRST`` (problem ids `proofcheck serve` warms at start-up).
Reading the configuration imports nothing heavy (`tomllib` only), so `proofcheck grade --list` can
locate a package's static index without importing the package.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from checkers.errors import UsageError

if TYPE_CHECKING:
    from checkers.model import Derivation

ENV_VAR = "PROOFCHECK_PROOFS"
ENTRY_POINT_GROUP = "proofcheck.proofs"


def _pyproject_packages(start: Path) -> tuple[str, ...] | None:
    import tomllib

    for directory in (start, *start.parents):
        path = directory / "pyproject.toml"
        if not path.is_file():
            continue
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("proofcheck")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        if table is None:
            continue
        packages = table.get("proof-packages")
        if not isinstance(packages, list) or not all(isinstance(p, str) and p for p in packages):
            raise UsageError(f"{path}: [tool.proofcheck] proof-packages must be a list of package names "
                             f"(got {packages!r})")
        return tuple(packages)
    return None


def _entry_point_packages() -> tuple[str, ...]:
    from importlib.metadata import entry_points

    return tuple(sorted({ep.value.split(":")[0] for ep in entry_points(group=ENTRY_POINT_GROUP)}))


@cache
def proof_packages() -> tuple[str, ...]:
    """The configured proof package names (see the module docstring for where they come from)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return tuple(p.strip() for p in env.split(",") if p.strip())
    found = _pyproject_packages(Path.cwd().resolve())
    if found is None:
        found = _entry_point_packages()
    if not found:
        raise UsageError(f"no proof packages configured: set [tool.proofcheck] proof-packages = [\"...\"] in "
                         f"pyproject.toml, the {ENV_VAR} environment variable, or an entry point in the "
                         f"{ENTRY_POINT_GROUP!r} group")
    return found


def package_directory(package: str) -> Path:
    """Where a configured package's files are, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"proof package {package!r} (configured in {ENV_VAR}, pyproject.toml or the "
                         f"{ENTRY_POINT_GROUP!r} entry points) cannot be found; is it installed or on sys.path?")
    directory = Path(next(iter(spec.submodule_search_locations)))
    if spec.origin is None:  # a folder without __init__.py: Python made it a namespace package
        raise UsageError(f"proof package {package!r} was found as the folder {directory}, which has no __init__.py; "
                         f"if that is the course's project folder (the package is inside it), run proofcheck from "
                         f"another folder, where the installed package is found")
    return directory


def package_of(path: Path) -> str | None:
    """The configured package whose directory holds `path` (a proof module file), without importing anything."""
    parent = Path(path).resolve().parent
    return _package_directories().get(parent)


@cache
def _package_directories() -> dict[Path, str]:
    try:
        packages = proof_packages()
    except UsageError:  # nothing configured: no file is a proof module
        return {}
    out = {}
    for package in packages:
        try:
            out[package_directory(package).resolve()] = package
        except UsageError:
            continue
    return out


@cache
def proof_modules() -> tuple[ModuleType, ...]:
    """Every module of every configured proof package, imported in (package, name) order."""
    out = []
    for package in proof_packages():
        package_directory(package)  # refuses a namespace package (a project folder shadowing the package)
        root = importlib.import_module(package)
        for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
            out.append(importlib.import_module(f"{package}.{info.name}"))
    return tuple(out)


def _package_declarations(name: str) -> tuple:
    """The tuple `name` declared by each configured package's `__init__`, concatenated in package order."""
    out = []
    for package in proof_packages():
        declared = getattr(importlib.import_module(package), name, ())
        if not isinstance(declared, tuple):
            raise UsageError(f"{package}.{name} must be a tuple (got a {type(declared).__name__})")
        out.extend(declared)
    return tuple(out)


@cache
def problem_sets() -> tuple:
    """The problem sets the proof packages declare (`PROBLEM_SETS`), in course order; ids are checked to be unique."""
    from checkers.reporting.problem_sets import ProblemSet

    found = _package_declarations("PROBLEM_SETS")
    wrong = [s for s in found if not isinstance(s, ProblemSet)]
    if wrong:
        raise UsageError(f"PROBLEM_SETS must hold checkers.ProblemSet declarations (got {wrong[0]!r})")
    ids = [s.id for s in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UsageError(f"duplicate problem-set ids in {', '.join(proof_packages())}: {', '.join(duplicates)}")
    return found


def warm_first() -> tuple[str, ...]:
    """The problem ids the proof packages ask `proofcheck serve` to warm at start-up (`WARM_FIRST`)."""
    found = _package_declarations("WARM_FIRST")
    if not all(isinstance(pid, str) for pid in found):
        raise UsageError(f"WARM_FIRST must be a tuple of problem ids (got {found!r})")
    return found


def find_module(name: str) -> ModuleType:
    """A module of the proof packages by its name inside its package (`student_hw6_answers`)."""
    for package in proof_packages():
        if importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")
    raise UsageError(f"no module {name!r} in the proof packages {', '.join(proof_packages())}")


@cache
def all_derivations() -> tuple[Derivation, ...]:
    """Every derivation of the proof packages, in module order; ids are checked to be unique."""
    found = [d for module in proof_modules() for d in getattr(module, "DERIVATIONS", ())]
    ids = [d.id for d in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UsageError(f"duplicate derivation ids in {', '.join(proof_packages())}: {', '.join(duplicates)}")
    return tuple(found)


@cache
def all_gradeable() -> tuple:
    """Every gradeable problem (`GRADEABLE` of each proof module), in module order; ids are checked to be unique."""
    found = [p for module in proof_modules() for p in getattr(module, "GRADEABLE", ())]
    ids = [p.id for p in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UsageError(f"duplicate gradeable problem ids in {', '.join(proof_packages())}: {', '.join(duplicates)}")
    return tuple(found)


def select(selectors: list[str]) -> tuple[list, dict[str, set[str]]]:
    """Resolve `ID` or `ID/CLAIM` selectors; no selector means everything."""
    by_id = {d.id: d for d in all_derivations()}
    if not selectors:
        return list(by_id.values()), {}
    chosen: dict[str, object] = {}
    claims: dict[str, set[str]] = {}
    for selector in selectors:
        deriv_id, _, claim_id = selector.partition("/")
        if deriv_id not in by_id:
            raise UsageError(f"unknown derivation {deriv_id!r}; known ids: {', '.join(sorted(by_id))}")
        chosen[deriv_id] = by_id[deriv_id]
        if claim_id:
            known = [c.id for c in by_id[deriv_id].claims]
            if claim_id not in known:
                raise UsageError(f"unknown claim {claim_id!r} in {deriv_id}; its claims: {', '.join(known)}")
            claims.setdefault(deriv_id, set()).add(claim_id)
    return list(chosen.values()), claims
