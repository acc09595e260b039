"""The gradeable problems: collected from the configured proof packages, and their static index for a fast listing.

Problems are declared in the proof modules, beside the claims they grade (`GRADEABLE = (Problem(...),)`,
see checkers.grading.problem), and found through checkers.registry, never imported by name. Listing
them must not import torch or sympy, so each proof package carries a static index,
`gradeable-index.json`, written from the imported declarations together with a digest of the
gradeable declarations' source (`sources_digest`: the `GRADEABLE` statements and what they use, not
the rest of the modules); `read_index` uses it only while that digest still matches, and otherwise
the declarations are imported and the index is rewritten (tests compare the index with the
declarations).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from checkers.errors import UsageError

if TYPE_CHECKING:
    from checkers.grading.problem import Problem

INDEX_NAME = "gradeable-index.json"
_FORMAT = 1


def problems() -> dict[str, Problem]:
    """Every declared problem by id, in the proof packages' module order."""
    from checkers.registry import all_gradeable

    return {p.id: p for p in all_gradeable()}


def get_problem(problem_id: str) -> Problem:
    """The problem with this id, or UsageError listing the known ids.

    The static index names the module declaring the problem, and only that module is imported (a
    grading command must not pay for importing every proof module); the declaration found there is
    the authority, so a stale index costs nothing but a miss. On a miss every declaration is collected.
    """
    module = _declaring_module(problem_id)
    if module is not None:
        import importlib

        try:
            declared = getattr(importlib.import_module(module), "GRADEABLE", ())
        except ModuleNotFoundError:  # the index names a module that is gone
            declared = ()
        found = [p for p in declared if p.id == problem_id]
        if len(found) == 1:
            return found[0]
    known = problems()
    try:
        return known[problem_id]
    except KeyError:
        raise UsageError(f"unknown problem {problem_id!r}; gradeable problems: {', '.join(known)}") from None


def declaring_file(problem: Problem) -> Path | None:
    """The file of the proof module that declares `problem`, found among the imported modules (nothing is imported).

    `get_problem` has imported that module, so scanning `sys.modules` finds it; a problem built
    elsewhere (in a test) gives None.
    """
    import sys

    from checkers.registry import proof_packages

    packages = set(proof_packages())
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in packages:
            continue
        declared = getattr(module, "GRADEABLE", ())
        if isinstance(declared, tuple) and any(p is problem for p in declared) and getattr(module, "__file__", None):
            return Path(module.__file__)
    return None


def _declaring_module(problem_id: str) -> str | None:
    """The module the static index says declares `problem_id` (a hint: the caller imports it and checks)."""
    from checkers.registry import proof_packages

    try:
        packages = proof_packages()
    except UsageError:
        return None
    for package in packages:
        doc = stored_index(package)
        for entry in (doc or {}).get("problems", ()):
            if entry["id"] == problem_id and entry["module"].split(".")[0] == package:
                return entry["module"]
    return None


# -- the static index --------------------------------------------------------------------------------
def sources_digest(package: str) -> str:
    """sha256 over the gradeable declarations of a proof package's modules (parsed with `ast`, never imported).

    For each module that assigns `GRADEABLE`, that assignment and every module-level statement it uses,
    transitively (the `Problem` declarations, the claims they grade, the names those use, and names
    imported from other modules of the package, followed into them), as syntax trees: comments, layout
    and every statement the declarations do not reach (other derivations, figures, prose) are left out,
    so editing them does not make the index stale. What a declaration reaches through a function body
    counts whole; imports from outside the package count as the import statement.
    """
    import ast

    from checkers.registry import package_directory

    directory = package_directory(package)
    trees: dict[str, ast.Module] = {}
    bound: dict[str, dict[str, list[ast.stmt]]] = {}

    def tree(module: str) -> ast.Module | None:
        if module not in trees:
            path = directory / f"{module}.py"
            try:
                trees[module] = ast.parse(path.read_bytes(), filename=str(path))
            except (OSError, SyntaxError, ValueError):
                trees[module] = None
        return trees[module]

    def bindings(module: str) -> dict[str, list[ast.stmt]]:
        if module in bound:
            return bound[module]
        out = bound[module] = {}
        for stmt in tree(module).body:
            names: list[str] = []
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [stmt.name]
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                names = [(a.asname or a.name).split(".")[0] for a in stmt.names]
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            for name in names:
                out.setdefault(name, []).append(stmt)
        return out

    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.py")):
        start = path.stem
        if tree(start) is None:
            digest.update(f"{start}: unreadable\0".encode())
            continue
        if "GRADEABLE" not in bindings(start):
            continue
        seen: set[tuple[str, int]] = set()
        todo = [(start, "GRADEABLE")]
        included: list[tuple[str, int, ast.stmt]] = []
        while todo:
            module, name = todo.pop()
            if tree(module) is None:
                continue
            for stmt in bindings(module).get(name, ()):
                if (module, stmt.lineno) in seen:
                    continue
                seen.add((module, stmt.lineno))
                included.append((module, stmt.lineno, stmt))
                if isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and (stmt.module or "").startswith(package + "."):
                    other = stmt.module[len(package) + 1:]
                    todo += [(other, a.name) for a in stmt.names if (a.asname or a.name) == name]
                elif isinstance(stmt, ast.ImportFrom) and stmt.level == 1 and stmt.module:
                    todo += [(stmt.module, a.name) for a in stmt.names if (a.asname or a.name) == name]
                elif not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    todo += [(module, n.id) for n in ast.walk(stmt) if isinstance(n, ast.Name)]
        for module, lineno, stmt in sorted(included, key=lambda item: (item[0], item[1])):
            digest.update(f"{module}\0".encode() + ast.dump(stmt, include_attributes=False).encode() + b"\0")
    return digest.hexdigest()


def files_digest(package: str) -> str:
    """sha256 over the names and contents of a proof package's .py files (read, not imported): the quick check.

    While it matches the one stored, nothing was edited and the index is fresh without parsing anything.
    """
    from checkers.registry import package_directory

    digest = hashlib.sha256()
    for path in sorted(package_directory(package).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def is_fresh(package: str, doc: dict | None) -> bool:
    """Whether a stored index still describes the package: no file changed, or no gradeable declaration did."""
    if doc is None:
        return False
    return doc.get("files") == files_digest(package) or doc.get("sources") == sources_digest(package)


def index_entries(package: str) -> list[dict]:
    """The index entries of one package's problems, from the imported declarations."""
    from checkers.registry import all_gradeable, proof_modules

    owner = {}
    for module in proof_modules():
        for p in getattr(module, "GRADEABLE", ()):
            owner[p.id] = module.__name__
    return [p.index_entry(owner[p.id]) for p in all_gradeable() if owner[p.id].split(".")[0] == package]


def write_index(package: str) -> Path:
    """Write `gradeable-index.json` for `package` from its imported declarations; returns its path."""
    from checkers.registry import package_directory

    path = package_directory(package) / INDEX_NAME
    doc = {"format": _FORMAT, "package": package, "sources": sources_digest(package),
           "files": files_digest(package), "problems": index_entries(package)}
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):  # no half-written file is left beside the index
            tmp.unlink(missing_ok=True)
        raise
    return path


def stored_index(package: str) -> dict | None:
    """The index file's document as stored (None when missing or unreadable)."""
    from checkers.registry import package_directory

    try:
        doc = json.loads((package_directory(package) / INDEX_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == _FORMAT else None


def read_index() -> tuple[list[dict], list[str]]:
    """Every package's index entries, and the packages whose index was stale (listed by importing them).

    A stale index is rewritten; where the package's folder cannot be written (a read-only install),
    the listing comes from the imported declarations and nothing is stored: the entry in the second
    list then says so ("proofs (not rewritten: ...)").
    """
    from checkers.registry import proof_packages

    entries, rebuilt = [], []
    for package in proof_packages():
        doc = stored_index(package)
        if not is_fresh(package, doc):
            try:
                write_index(package)
                doc = stored_index(package)
                rebuilt.append(package)
            except OSError as exc:  # a read-only install: list from the declarations without storing
                doc = None
                rebuilt.append(f"{package} (not rewritten: {exc.strerror or exc})")
            if doc is None:  # unwritable, or rewritten and then changed under us
                doc = {"problems": index_entries(package)}
        entries.extend(doc["problems"])
    return entries, rebuilt
