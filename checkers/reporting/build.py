"""Builds the solution reports: one verification run, then per problem set a PDF and an HTML page, and an index.

`build_reports(options)` groups derivations by the problem sets their `source` names, verifies
all of them once (or reuses the cached run of identical sources and versions), draws the figures,
grades the submitted answers of a set that names them (`ProblemSet.answers`), renders the templates
and runs latexmk only for documents whose LaTeX or figures changed. It always writes every document
before reporting failures: `BuildOutcome.passed` is False when any check failed or a figure could
not be drawn, and the CLI turns that into a non-zero exit.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from checkers.errors import ReportError, UsageError
from checkers.model import Derivation
from checkers.output_files import write_bytes_atomic
from checkers.reporting.cache import CachedResult, ResultCache, derivation_key, engine_digest, proof_files
from checkers.reporting.documents import derivation_view, group_problems, run_view, set_view
from checkers.reporting.figures import render_figure
from checkers.reporting.graded import graded_section
from checkers.reporting.latex import compile_pdf, latex_available, missing_latex_message
from checkers.reporting.latex_escape import Tex
from checkers.reporting.problem_sets import group_by_set
from checkers.reporting.records import FigureView, PartView
from checkers.reporting.render import html_environment, latex_environment
from checkers.results import RunResult

__all__ = ["FORMATS", "BuildOptions", "BuildOutcome", "build_reports"]

FORMATS = ("pdf", "html", "tex")


@dataclass(frozen=True)
class BuildOptions:
    """What to build and where. `derivations=None` means every derivation in `proofs/`."""

    out_dir: Path = Path("reports")
    sets: tuple[str, ...] = ()  # empty: every problem set that has derivations
    formats: tuple[str, ...] = ("pdf", "html")
    seed: int = 0
    devices: tuple[str, ...] | None = None  # None: every device present
    instances: int | None = None
    derivations: tuple[Derivation, ...] | None = None
    cache_dir: Path | None = Path(".cache/reports")  # None: no verification cache, no figure cache
    jobs: int = 2  # latexmk processes in parallel
    key: bool = True  # also write the answer keys reports/<set>-key.{pdf,html}
    full: bool = True  # write the full solutions reports/<set>.{pdf,html} (False with --key: the keys only)


@dataclass
class BuildOutcome:
    run: RunResult
    checked: dict[str, tuple[str, bool]]  # per derivation id: when its result was checked, and whether reused
    documents: list[Path] = field(default_factory=list)
    latex_runs: list[str] = field(default_factory=list)  # set ids latexmk actually compiled
    warnings: list[str] = field(default_factory=list)
    figure_errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.run.passed and not self.figure_errors

    @property
    def reused(self) -> list[str]:
        """Derivation ids whose results came from the cache."""
        return [d for d, (_, reused) in self.checked.items() if reused]


def _verify(derivations: Sequence[Derivation], options: BuildOptions, devices: Sequence[str],
            progress: Callable | None) -> tuple[RunResult, dict[str, tuple[str, bool]]]:
    """One RunResult for `derivations`: cached results where the key matches, one verify() run for the rest.

    Also returns, per derivation id, when its result was checked and whether it was reused.
    """
    from checkers.verify import verify, versions

    cache = ResultCache(options.cache_dir / "results") if options.cache_dir is not None else None
    engine = engine_digest() if cache is not None else ""
    keys = {d.id: derivation_key(d, engine, options.seed, devices, options.instances) if cache else None
            for d in derivations}
    reused = {d.id: cache.load(keys[d.id]) for d in derivations} if cache is not None else {}
    todo = [d for d in derivations if reused.get(d.id) is None]
    fresh = verify(todo, seed=options.seed, devices=devices, instances=options.instances, on_claim=progress) \
        if todo else None
    results, checked = {}, {}
    if fresh is not None:
        for result in fresh.derivations:
            results[result.id] = result
            checked[result.id] = (fresh.started, False)
            if cache is not None:
                cache.store(keys[result.id], CachedResult(result, fresh.started, sum(c.seconds for c in result.claims),
                                                          fresh.versions))
    for derivation_id, entry in reused.items():
        if entry is not None:
            results[derivation_id] = entry.result
            checked[derivation_id] = (entry.started, True)
    ordered = tuple(results[d.id] for d in derivations)
    dtypes = sorted({r.dtype for der in ordered for c in der.claims for r in c.numeric})
    started = min((when for when, _ in checked.values()), default="")
    run = RunResult(ordered, options.seed, tuple(devices), tuple(dtypes), versions(), started,
                    fresh.seconds if fresh is not None else 0.0)
    return run, checked


def _figure_digest(derivation: Derivation) -> str | None:
    """What a derivation's drawn figures depend on: its proof modules, the engine, this renderer, matplotlib."""
    import matplotlib

    from checkers.reporting import figures

    files = proof_files(derivation)
    if files is None:
        return None
    digest = hashlib.sha256((engine_digest() + matplotlib.__version__).encode())
    for path in [*files, Path(figures.__file__)]:
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _figure_name(derivation_id: str, figure_id: str) -> str:
    """A file name of hex digits only, so it needs no escaping in \\includegraphics."""
    return "fig" + hashlib.sha256(f"{derivation_id}\0{figure_id}".encode()).hexdigest()[:16] + ".pdf"


def _figures(derivation: Derivation, figure_dirs: list[Path], cache_dir: Path | None) -> tuple[FigureView, ...]:
    views = []
    digest = _figure_digest(derivation) if cache_dir is not None and derivation.figures else None
    for figure in derivation.figures:
        name = _figure_name(derivation.id, figure.id)
        cached = cache_dir / "figures" / digest[:32] / name if digest is not None else None
        if cached is not None and cached.exists() and cached.with_suffix(".png").exists():
            pdf, png, error = cached.read_bytes(), cached.with_suffix(".png").read_bytes(), ""
        else:
            rendered = render_figure(figure)
            pdf, png, error = rendered.pdf, rendered.png, rendered.error
            if cached is not None and not error:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_bytes(pdf)
                cached.with_suffix(".png").write_bytes(png)
        if not error:
            for directory in figure_dirs:
                target = directory / name
                if not target.is_file() or target.read_bytes() != pdf:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    write_bytes_atomic(target, pdf)
        views.append(FigureView(figure.id, figure.caption, base64.b64encode(png).decode("ascii") if png else "",
                                Tex(f"figures/{name}") if not error else Tex(""), error))
    return tuple(views)


def _graded_digest(module_name: str) -> str:
    """What a graded section depends on: every Python file of checkers/ and of the proof packages (where the
    gradeable problems are declared), the library versions and the module's name."""
    import sys

    import checkers
    from checkers.registry import package_directory, proof_packages
    from checkers.reporting.cache import hash_files, source_files

    root = Path(checkers.__file__).parent
    paths = [p for p in source_files(root) if p.suffix == ".py"]
    for package in proof_packages():
        directory = package_directory(package)
        paths += [p for p in source_files(directory) if p.suffix == ".py"]
    from checkers.verify import versions

    extra = module_name + repr(sorted(versions().items())) + sys.version
    return hashlib.sha256((hash_files(paths, root.parent) + extra).encode()).hexdigest()


def _graded(module_name: str, cache_dir: Path | None):
    """The graded section of a submission, reused from the cache while nothing it depends on changed.

    Grading forks a sandboxed worker per answer (seconds each); the result is deterministic (seeded
    instances, no symbolic confirmation), so an unchanged submission and grader give the same section.
    """
    import pickle

    if cache_dir is None:
        return graded_section(module_name)
    path = cache_dir / "graded" / f"{_graded_digest(module_name)[:32]}.pickle"
    if path.exists():
        try:
            return pickle.loads(path.read_bytes())
        except Exception:  # a stale or truncated entry is recomputed, never trusted
            pass
    section = graded_section(module_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(section))
    return section


def _statements_of(part: PartView):
    """The author-written texts of a part that went through the statement converter."""
    if part.question is not None:
        yield part.question
    if part.answer is not None:
        if part.answer.text is not None:
            yield part.answer.text
        yield from part.answer.algorithm
        if part.answer.scope is not None:
            yield part.answer.scope


def _write(path: Path, text: str) -> Path:
    """Write `path` only if its content changed (keeps timestamps of unchanged documents)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    if not path.is_file() or path.read_bytes() != data:
        write_bytes_atomic(path, data)  # never through a link someone left there, never into a device
    return path


def _check_formats(options: BuildOptions) -> None:
    """Refuse an unknown format, and a PDF where no LaTeX is installed, before anything runs."""
    unknown_formats = [f for f in options.formats if f not in FORMATS]
    if unknown_formats:
        raise UsageError(f"unknown format {unknown_formats[0]!r}; choose from {', '.join(FORMATS)}")
    if "pdf" in options.formats and not latex_available():
        raise ReportError(missing_latex_message())


def _chosen(options: BuildOptions) -> tuple[tuple[Derivation, ...], dict]:
    """The derivations to build and their problem sets (every set, or those `options.sets` names)."""
    from checkers.registry import all_derivations

    derivations = tuple(options.derivations if options.derivations is not None else all_derivations())
    groups = group_by_set(derivations)
    if options.sets:
        known = {s.id for s in groups}
        for wanted in options.sets:
            if wanted not in known:
                raise UsageError(f"unknown problem set {wanted!r} (or it has no derivations yet); "
                                 f"sets with derivations: {', '.join(s.id for s in groups) or 'none'}")
        groups = {s: p for s, p in groups.items() if s.id in options.sets}
        chosen = {p.derivation.id for placements in groups.values() for p in placements}
        derivations = tuple(d for d in derivations if d.id in chosen)
    return derivations, groups


def _draw_figures(derivations: Sequence[Derivation], figure_dirs: list[Path], options: BuildOptions,
                  outcome: BuildOutcome) -> dict[str, tuple[FigureView, ...]]:
    """Every derivation's figures, per derivation id; a figure that cannot be drawn goes to the outcome's errors."""
    figure_views = {}
    for derivation in derivations:
        figures = _figures(derivation, figure_dirs, options.cache_dir)
        outcome.figure_errors += [f"{derivation.id} / figure {f.id}: {f.error}" for f in figures if f.error]
        figure_views[derivation.id] = figures
    return figure_views


def _conversion_warnings(view) -> list[str]:
    """Where a derivation's author-written texts could not be converted and are shown as plain source."""
    warnings = []
    if view.statement.problems:
        warnings.append(f"{view.id}: statement shown as plain source: {'; '.join(view.statement.problems)}")
    for part in view.parts:
        warnings += [f"{part.anchor}: text shown as plain source: {'; '.join(rendered.problems)}"
                     for rendered in _statements_of(part) if rendered.problems]
    return warnings


def _set_views(groups: dict, run: RunResult, figure_views: dict[str, tuple[FigureView, ...]],
               options: BuildOptions, outcome: BuildOutcome) -> list:
    """One view per problem set: its problems with their checked derivations and figures, and its graded
    submission where the set names one; conversion warnings go to the outcome."""
    results = {r.id: r for r in run.derivations}
    checked = outcome.checked
    set_views = []
    for problem_set, placements in groups.items():
        views = [derivation_view(p, results[p.derivation.id], figure_views[p.derivation.id], checked[p.derivation.id])
                 for p in placements]
        for view in views:
            outcome.warnings += _conversion_warnings(view)
        graded = _graded(problem_set.answers, options.cache_dir) if problem_set.answers else None
        set_views.append(set_view(problem_set, list(group_problems(placements, views)),
                                  run_view(run, [checked[p.derivation.id] for p in placements]), graded))
    outcome.warnings = sorted(set(outcome.warnings))
    return set_views


def _write_documents(set_views: list, log_names: dict[str, str], options: BuildOptions, out_dir: Path,
                     build_root: Path, outcome: BuildOutcome) -> list[tuple[str, str, list[Path]]]:
    """Write each set's HTML and LaTeX documents (full solutions and key, as asked); return the LaTeX jobs to
    compile into PDFs: (document name, LaTeX source, figure files it includes)."""
    latex_jobs = []
    documents = ([("report", "")] if options.full else []) + ([("report-key", "-key")] if options.key else [])
    for sv in set_views:
        for kind, suffix in documents:
            log_name = log_names.get(sv.id, "log")  # the printer writes the set's natural logarithm
            if "html" in options.formats:
                html = html_environment().get_template(f"{kind}.html.j2").render(set=sv, log_name=log_name)
                outcome.documents.append(_write(out_dir / f"{sv.id}{suffix}.html", html))
            if "tex" in options.formats or "pdf" in options.formats:
                tex = latex_environment().get_template(f"{kind}.tex.j2").render(set=sv, log_name=log_name)
                if "tex" in options.formats:
                    outcome.documents.append(_write(out_dir / f"{sv.id}{suffix}.tex", tex))
                if "pdf" in options.formats:
                    inputs = ([build_root / str(f.pdf_name) for p in sv.problems for f in p.figures if f.pdf_name]
                              if kind == "report" else [])  # the key has no figures
                    latex_jobs.append((sv.id + suffix, tex, inputs))
    return latex_jobs


def _write_index(set_views: list, run: RunResult, checked: dict[str, tuple[str, bool]], options: BuildOptions,
                 out_dir: Path) -> Path:
    """reports/index.html: every set with its status, and one summary line for the whole course."""
    passed = all(sv.css == "ok" for sv in set_views)
    n_problems = sum(len(sv.problems) for sv in set_views)
    n_failed = sum(p.status != "passed" for sv in set_views for p in sv.problems)
    wrong = [f"{sv.id}: {sv.status}" for sv in set_views if sv.graded is not None and sv.css != "ok"]
    summary = (f"{len(set_views)} problem sets, {n_problems} problems"
               + (f", {n_failed} with a failed check" if n_failed else ", every reference solution verified")
               + (f"; graded submissions: {'; '.join(wrong)}" if wrong else ""))
    status = "FAILED" if n_failed else ("passed" if passed else "reference solutions verified")
    index = html_environment().get_template("index.html.j2").render(
        sets=set_views, run=run_view(run, list(checked.values())), status=status,
        css="fail" if n_failed else ("ok" if passed else "warn"), summary=summary, pdf="pdf" in options.formats,
        key=options.key)
    return _write(out_dir / "index.html", index)


def _compile_pdfs(latex_jobs: list[tuple[str, str, list[Path]]], options: BuildOptions, build_root: Path,
                  out_dir: Path, outcome: BuildOutcome) -> None:
    """Run latexmk for the documents whose LaTeX or figures changed, `options.jobs` at a time."""
    def job(item):
        set_id, tex, inputs = item
        ran = compile_pdf(tex, set_id, build_root, out_dir / f"{set_id}.pdf", inputs)
        return set_id, ran

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        for set_id, ran in pool.map(job, latex_jobs):
            outcome.documents.append(out_dir / f"{set_id}.pdf")
            if ran:
                outcome.latex_runs.append(set_id)


def build_reports(options: BuildOptions, progress: Callable | None = None) -> BuildOutcome:
    """Verify, then write reports/<set>.{pdf,html,tex} and reports/index.html; see the module docstring."""
    from checkers.devices import resolve_devices

    timings: dict[str, float] = {}
    started = time.perf_counter()
    _check_formats(options)
    derivations, groups = _chosen(options)
    devices = tuple(options.devices) if options.devices else tuple(resolve_devices("auto"))

    run, checked = _verify(derivations, options, devices, progress)
    timings["verify"] = time.perf_counter() - started
    outcome = BuildOutcome(run=run, checked=checked)

    out_dir = Path(options.out_dir)
    build_root = (options.cache_dir if options.cache_dir is not None else out_dir / ".build") / "latex"
    figure_dirs = [build_root / "figures"] + ([out_dir / "figures"] if "tex" in options.formats else [])
    t0 = time.perf_counter()
    figure_views = _draw_figures(derivations, figure_dirs, options, outcome)
    timings["figures"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    set_views = _set_views(groups, run, figure_views, options, outcome)
    log_names = {problem_set.id: problem_set.log_name for problem_set in groups}
    latex_jobs = _write_documents(set_views, log_names, options, out_dir, build_root, outcome)
    if "html" in options.formats and options.full:
        outcome.documents.append(_write_index(set_views, run, checked, options, out_dir))
    timings["render"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if latex_jobs:
        _compile_pdfs(latex_jobs, options, build_root, out_dir, outcome)
    timings["latex"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    outcome.seconds = timings
    return outcome
