"""A stand-in for the grading pool that answers at once with copies of one result, so that a bulk run measures the
grading parent alone (its memory, its bookkeeping); used by tests/test_grading_bulk.py and
benchmarks/bulk_memory_bench.py."""

from __future__ import annotations

import json


def instant_pool(result: dict) -> type:
    """A class with the grading pool's interface whose `map` answers every item with a copy of `result` (the JSON a
    worker's pipe would deliver), carrying the item's answer; a fingerprint task gets the result's fingerprint."""
    template = json.dumps(result)

    class InstantPool:
        restarts = 0

        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def map(self, items):
            for key, payload in items:
                doc = json.loads(template)
                if isinstance(payload, str):
                    doc["answer"] = payload
                else:  # a fingerprint task
                    doc = {"fingerprint": doc.get("fingerprint")}
                yield key, doc

    return InstantPool
