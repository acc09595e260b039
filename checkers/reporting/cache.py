"""A per-derivation cache of verification results, keyed by everything a result depends on.

A derivation's key hashes its own proof module and the `proofs` modules it imports (transitively, read
from the import statements of their syntax trees), every file of the engine under `checkers/` (the
reporting and grading packages excepted: they consume results and verify() never imports them; a proof
that imports one has it hashed with its own sources), the versions of Python, torch, sympy,
hypothesis and numpy, the seed, the devices and the instance count. Identical inputs give the
identical result (every random draw is seeded), so a hit reuses it honestly; the reports say so and
show when the reused check ran. Editing one proof re-checks only the derivations that depend on it.
Failing results are never stored: a failure is always re-checked. Derivations that do not come from
a module in `proofs/` (built in a test, say) are never cached.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import pickle
import platform
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import checkers
from checkers.model import Derivation
from checkers.registry import package_directory, proof_packages
from checkers.results import DerivationResult

__all__ = ["CachedResult", "ResultCache", "derivation_key", "engine_digest", "proof_files"]

_FORMAT = 2  # bump when the cached record's layout changes
KEEP = 200  # entries kept: every derivation a few times over


def _imported_modules(path: Path, package: str) -> set[str]:
    """Every module a Python file imports, anywhere in it, as dotted names read from its syntax tree: `import a.b`
    gives a.b, `from a import b, c` gives a, a.b and a.c (b may be a module or a name; the caller checks).

    Relative imports (`from .x import y`) are resolved against `package`, the proof package the file lives in.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = ".".join(filter(None, [package if node.level else None, node.module]))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


@dataclass(frozen=True)
class CachedResult:
    """One derivation's result with the facts of the run that produced it."""

    result: DerivationResult
    started: str
    seconds: float
    versions: dict[str, str]


def source_files(root: Path, exclude: Path | None = None) -> Iterable[Path]:
    """The files under `root` (none under `exclude`), sorted, without bytecode."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if exclude is not None and exclude in path.parents:
            continue
        yield path


def hash_files(paths: Iterable[Path], base: Path) -> str:
    """One SHA-256 of the files' paths (relative to `base`) and contents, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(base) if base in path.parents else path.name).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# Subcommand packages that consume results and that verify() never imports: a change there cannot change
# a result, unless a proof module imports them (then they count as that proof's sources).
CONSUMERS = ("reporting", "grading")


def engine_digest() -> str:
    """sha256 over the paths and contents of the checking machinery: checkers/ less its consumer subpackages."""
    root = Path(checkers.__file__).parent
    excluded = [root / name for name in CONSUMERS]
    files = [p for p in source_files(root) if not any(e in p.parents for e in excluded)]
    return hash_files(files, root.parent)


def _defining_module(derivation: Derivation) -> tuple[str, str] | None:
    """(package, module name inside it) of the proof module defining `derivation`."""
    packages = proof_packages()
    for name, module in list(sys.modules.items()):
        package = name.split(".", 1)[0]
        if package in packages and "." in name and any(d is derivation for d in getattr(module, "DERIVATIONS", ())):
            return package, name.split(".", 1)[1]
    return None


def proof_files(derivation: Derivation) -> list[Path] | None:
    """The proof module defining `derivation` and the proof modules it imports, transitively; None if unknown."""
    found = _defining_module(derivation)
    if found is None:
        return None
    package, start = found
    root = package_directory(package)
    seen, todo, imported = set(), [start], set()
    while todo:
        name = todo.pop()
        path = root / f"{name}.py"
        if name in seen or not path.exists():
            continue
        seen.add(name)
        modules = _imported_modules(path, package)
        imported |= modules
        todo += [module.split(".")[1] for module in modules if module.startswith(f"{package}.")]
    files = sorted([root / f"{name}.py" for name in seen] + [root / "__init__.py"])
    checkers_root = Path(checkers.__file__).parent
    for name in CONSUMERS:
        if any(module == f"checkers.{name}" or module.startswith(f"checkers.{name}.") for module in imported):
            files += list(source_files(checkers_root / name))
    return files


@cache
def _versions() -> tuple[tuple[str, str], ...]:
    import hypothesis
    import numpy
    import sympy
    import torch

    return (("python", platform.python_version()), ("torch", torch.__version__), ("sympy", sympy.__version__),
            ("hypothesis", hypothesis.__version__), ("numpy", numpy.__version__))


def derivation_key(derivation: Derivation, engine: str, seed: int, devices: Sequence[str],
                   instances: int | None) -> str | None:
    """The cache key of one derivation's verification; None when it cannot be cached."""
    files = proof_files(derivation)
    if files is None:
        return None
    doc = {"format": _FORMAT, "engine": engine, "proofs": hash_files(files, files[0].parent.parent),
           "versions": dict(_versions()), "seed": seed, "devices": list(devices), "instances": instances,
           "derivation": derivation.id}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class ResultCache:
    """Passing derivation results stored under `directory`, one pickle per key (our own files, never downloaded)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / f"verify-{key}.pickle"

    def load(self, key: str | None) -> CachedResult | None:
        if key is None:
            return None
        try:
            with self._path(key).open("rb") as fh:
                entry = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
            return None
        return entry if isinstance(entry, CachedResult) and entry.result.passed else None

    def store(self, key: str | None, entry: CachedResult) -> bool:
        """Keep `entry` if it passed; returns whether it was stored. Only the newest entries are kept."""
        if key is None or not entry.result.passed:
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self._path(key).with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as fh:
            pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(self._path(key))
        entries = sorted(self.directory.glob("verify-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
        return True
