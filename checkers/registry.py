"""Discovery of derivations: every module in `proofs/` exposes a tuple DERIVATIONS."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import proofs
from checkers.errors import UsageError
from checkers.model import Derivation


@cache
def all_derivations() -> tuple[Derivation, ...]:
    """Every derivation in `proofs/`, in module order; ids are checked to be unique."""
    found: list[Derivation] = []
    for info in sorted(pkgutil.iter_modules(proofs.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"proofs.{info.name}")
        found.extend(getattr(module, "DERIVATIONS", ()))
    ids = [d.id for d in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UsageError(f"duplicate derivation ids in proofs/: {', '.join(duplicates)}")
    return tuple(found)


def select(selectors: list[str]) -> tuple[list[Derivation], dict[str, set[str]]]:
    """Resolve `ID` or `ID/CLAIM` selectors; no selector means everything."""
    by_id = {d.id: d for d in all_derivations()}
    if not selectors:
        return list(by_id.values()), {}
    chosen: dict[str, Derivation] = {}
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
