"""A verification result cache keyed by everything the result depends on, so unchanged sources are not re-checked.

The key hashes every file under `proofs/` and `checkers/` (the reporting package excepted: it only
renders results and cannot change them), the versions of Python, torch, sympy, hypothesis and numpy,
the seed, the devices, the instance count and the derivation ids. Identical inputs give the identical
run (every random draw is seeded), so a hit reuses a run honestly; the reports say that it did and
when the run took place. Failing runs are never stored: a failure is always re-checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path

import checkers
import proofs
from checkers.results import RunResult

__all__ = ["RunCache", "source_digest", "verify_key"]

_FORMAT = 1  # bump when the cached record's layout changes
KEEP = 8  # runs kept (a full build and a few subsets, e.g. `--set` builds and tests)


def _files(root: Path, exclude: Path | None = None) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if exclude is not None and exclude in path.parents:
            continue
        yield path


def source_digest() -> str:
    """sha256 over the paths and contents of the proof modules and the checking machinery."""
    digest = hashlib.sha256()
    checkers_root, proofs_root = Path(checkers.__file__).parent, Path(proofs.__file__).parent
    for root, exclude in ((checkers_root, checkers_root / "reporting"), (proofs_root, None)):
        for path in _files(root, exclude):
            digest.update(str(path.relative_to(root.parent)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import hypothesis
    import numpy
    import sympy
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "sympy": sympy.__version__,
            "hypothesis": hypothesis.__version__, "numpy": numpy.__version__}


def verify_key(derivation_ids: Sequence[str], seed: int, devices: Sequence[str], instances: int | None) -> str:
    """The cache key of one verification run."""
    doc = {"format": _FORMAT, "sources": source_digest(), "versions": _versions(), "seed": seed,
           "devices": list(devices), "instances": instances, "derivations": list(derivation_ids)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class RunCache:
    """Passing RunResults stored under `directory`, one pickle per key (our own files, never downloaded)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / f"verify-{key}.pickle"

    def load(self, key: str) -> RunResult | None:
        path = self._path(key)
        try:
            with path.open("rb") as fh:
                run = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None
        return run if isinstance(run, RunResult) and run.passed else None

    def store(self, key: str, run: RunResult) -> bool:
        """Keep `run` if it passed; returns whether it was stored. Only the newest entries are kept."""
        if not run.passed:
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        entries = sorted(self.directory.glob("verify-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP - 1:]:
            old.unlink(missing_ok=True)
        tmp = self._path(key).with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as fh:
            pickle.dump(run, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(self._path(key))
        return True
