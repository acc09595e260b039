"""Terminal rendering of verification runs: a progress bar while checking and one table per derivation."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from checkers.results import ClaimResult, RunResult


@contextmanager
def progress_reporter(total: int, enabled: bool = True) -> Iterator:
    """Yields an on_claim callback that advances a progress bar on stderr (silent when not a terminal)."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("verifying", total=total)

        def on_claim(derivation, claim, result):
            progress.update(task, advance=1, description=f"{derivation.id} / {claim.id}")

        yield on_claim


def _symbolic_cell(c: ClaimResult) -> str:
    s = c.symbolic
    text = s.status + (f" ({s.scope})" if s.scope else "")
    steps = [st for st in c.steps]
    if steps:
        proved = sum(st.symbolic.status == "proved" for st in steps)
        text += f"; steps {proved}/{len(steps)} proved"
    color = {"proved": "green", "failed": "red"}.get(s.status, "yellow")
    return f"[{color}]{text}[/]"


def _numeric_cell(c: ClaimResult) -> str:
    parts = []
    for r in c.numeric:
        if r.skipped:
            parts.append(f"[yellow]{r.device}/{r.dtype}: skipped[/]")
        else:
            mark = "[green]ok[/]" if r.passed else "[red]FAIL[/]"
            parts.append(f"{r.device}/{r.dtype} {mark} n={r.instances} rel={r.worst_rel_error:.1e}")
    return "\n".join(parts)


def print_run(run: RunResult, file=None) -> None:
    console = Console(file=file or sys.stdout, width=160)
    for d in run.derivations:
        table = Table(title=f"{d.id} — {d.title} ({d.source})", title_justify="left", show_lines=True)
        for col in ("claim", "symbolic", "numeric (worst relative error)", "references", "mutants caught", "result"):
            table.add_column(col)
        for c in d.claims:
            refs = "\n".join(("[green]ok[/] " if r.passed else "[red]FAIL[/] ") + r.id for r in c.references) or "-"
            caught = sum(m.caught for m in c.mutants)
            mutants = f"{caught}/{len(c.mutants)}"
            result = "[green]passed[/]" if c.passed else "[red]FAILED[/]"
            table.add_row(c.id, _symbolic_cell(c), _numeric_cell(c), refs,
                          mutants if caught == len(c.mutants) else f"[red]{mutants}[/]", result)
        console.print(table)
        for c in d.claims:
            for reason in c.failures:
                console.print(f"[red]{d.id} / {c.id}[/]: {reason}", markup=True, highlight=False)
    n_claims = sum(len(d.claims) for d in run.derivations)
    n_failed = sum(not c.passed for d in run.derivations for c in d.claims)
    status = "[green]PASSED[/]" if run.passed else "[red]FAILED[/]"
    console.print(f"{status}: {n_claims - n_failed}/{n_claims} claims in {len(run.derivations)} derivations; "
                  f"devices {', '.join(run.devices)}; seed {run.seed}; torch {run.versions['torch']}, "
                  f"sympy {run.versions['sympy']}; {run.seconds:.1f} s")
