"""Class CSVs as `proofcheck grade --csv` reads and writes them, for the tests that grade one."""

from __future__ import annotations

import csv


def write(path, rows):
    """An `id,answer` CSV at `path` with the first two cells of each row; returns `path`."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "answer"])
        for r in rows:
            w.writerow(r[:2])
    return path


def read(path):
    """The rows of a CSV proofcheck wrote, as dicts by column name."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
