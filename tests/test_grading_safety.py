r"""Student text is hostile: nothing is executed, limits hold, and every string gets a verdict (fuzzed)."""

import functools
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.grading.grader import grade_in_process

KL = r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)"
PROBLEMS = ("gaussian-density", "kl-gaussian")


def injections(sentinel):
    return [
        f"__import__('os').system('touch {sentinel}')",
        f"eval(\"__import__('os').system('touch {sentinel}')\")",
        f"exec('open(\"{sentinel}\", \"w\")')",
        f"open('{sentinel}', 'w').write('x')",
        "__import__('subprocess').run(['ls'])",
        "().__class__.__bases__[0].__subclasses__()",
        "lambda: 0",
        "x.__class__",
        r"\input{/etc/passwd}",
        r"\include{/etc/passwd}",
        r"\def\x{1}\x",
        r"\newcommand{\x}{x}\x",
        r"\renewcommand{\det}{\exp}\det\Sigma",
        f"\\immediate\\write18{{touch {sentinel}}}",
        r"\csname det\endcsname\Sigma",
        r"\catcode`\^=11 x^T",
        "{{7*7}}",
        "${x}",
        "import os",
        "x; import os",
        "Symbol('x')",
        "\x00x",
    ]


def test_code_injection_is_refused_without_running_anything(tmp_path, monkeypatch):
    sentinel = tmp_path / "pwned"
    grade_in_process("kl-gaussian", KL, symbolic=False)  # warm up every import before the traps are set

    import builtins

    import sympy.parsing.sympy_parser

    def refuse(*args, **kwargs):
        raise AssertionError(f"eval/exec called on {args[:1]!r}")

    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", refuse)
    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    for text in injections(sentinel):
        result = grade_in_process("kl-gaussian", text, symbolic=False)
        # Rejected: invalid, or (for `{{7*7}}`, which is also just the number 49) incorrect.
        assert result.verdict == ("incorrect" if text == "{{7*7}}" else "invalid"), (text, result.message)
        assert not result.internal_error, (text, result.message)
    assert not sentinel.exists()
    # The grader still works with the traps in place: it never needed a string evaluator.
    assert grade_in_process("kl-gaussian", KL, symbolic=False).verdict == "correct"


@pytest.mark.parametrize("text", [
    "2^{2^{2^{99}}}",
    "10^{10^{10}}",
    "9^{9^{9}}",
    r"d^{99999999}",
    "(2^{1000})^{1000}",
    r"\exp(\exp(\exp(\exp(1000))))",
    r"\sum_{k=1}^{10^{9}} k",
    r"\sum_{k=1}^{d^{40}} k",
    r"\frac{1}{2^{-4096}}",
    "9" * 40,
    "1." + "0" * 28 + "1",
    r"\Sigma_0^{99999}",
    r"\Sigma_0^{64}",
    "{" * 45 + "d" + "}" * 45,
    "(" * 300 + "d" + ")" * 300,
    "d" + "^d" * 300,
    r"\log" * 300 + " d",
    "-" * 700 + "d",
    "d" * 1999,
    "x" * 5000,
    "\u202e\u0000\ufeff",
    "😀 + d",
])
def test_explosive_answers_end_within_the_limit(text):
    start = time.process_time()
    result = grade_in_process("kl-gaussian", text, limit=2.0, symbolic=False)
    assert time.process_time() - start < CPU_BUDGET, "the grader ran past its 2 s limit"
    assert result.verdict in ("invalid", "incorrect"), result.message
    assert not result.internal_error, result.message


TOKENS = [r"\frac", r"\sqrt", "^", "_", "{", "}", "(", ")", "[", "]", "|", r"\|", r"\left(", r"\right)", r"\det",
          r"\log", r"\exp", r"\operatorname{tr}", r"\mathrm{tr}", r"\sum", r"\ell", "=", "+", "-", "*", "/", "'",
          r"\cdot", r"\top", "T", "-1", "1", "2", "0", "d", "n", "x", "b", "A", r"\Sigma", r"\Sigma_0", r"\Sigma_1",
          r"\mu_0", r"\mu_1", r"\pi", "e", r"\,", " ", r"\{", r"\}", r"\prod", r"\input", "0.5", "99", "inv", "S1",
          r"\max", r"\min", "_j", "x_j", ",", r"\tanh", r"\log_2", r"\div", r"\operatorname{ReLU}", r"\sigma", "dd",
          r"\begin{pmatrix}", r"\end{pmatrix}", r"\begin{vmatrix}", r"\end{vmatrix}", "&", r"\\", "1.1.1", "10^{1000}",
          r"\mathit{d}", r"\thinspace"]


# CPU seconds this process may spend on one answer graded under a 2 s wall-clock limit: the limit, plus a
# first call's per-problem setup. CPU time, not wall time, so a loaded machine (which slows the wall clock
# down, not the work) cannot fail the test, while a grader that ignores its limit still does.
CPU_BUDGET = 8.0


def assert_well_formed(result, text: str) -> None:
    """A verdict that carries what it claims: graded answers were checked on instances, invalid ones say why."""
    assert not result.internal_error, (text, result.message)
    if result.verdict == "invalid":
        assert result.message.strip() and result.score is None, (text, result.message)
    else:
        assert result.instances > 0 and result.score == (1.0 if result.verdict == "correct" else 0.0), (text, result)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=st.sampled_from(PROBLEMS),
       text=st.one_of(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
                      st.text(max_size=60),
                      st.text(alphabet="\\{}()[]^_|'+-*/=.,0123456789xdnbAT ", max_size=60)))
def test_fuzz_every_string_gets_a_verdict_within_the_limit(problem, text):
    start = time.process_time()
    result = grade_in_process(problem, text, limit=2.0, symbolic=False)
    assert_well_formed(result, text)
    assert time.process_time() - start < CPU_BUDGET, "the grader ran past its 2 s limit"


def _well_typed():
    """Random well-formed kl-gaussian formulas: scalars, vectors and matrices combined as their shapes allow."""
    scalar_leaf = st.sampled_from(["d", "2", r"\pi", "0.5", "e", "1"])
    vector_leaf = st.sampled_from([r"\mu_0", r"\mu_1"])
    matrix_leaf = st.sampled_from([r"\Sigma_0", r"\Sigma_1"])
    scalar = st.deferred(lambda: st.one_of(
        scalar_leaf,
        st.tuples(scalar, st.sampled_from(["+", "-", "*", "/", " "]), scalar).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from([r"\log", r"\exp", r"\sqrt", "|"]), scalar).map(
            lambda t: f"|{t[1]}|" if t[0] == "|" else f"{t[0]}{{{t[1]}}}"),
        st.tuples(scalar, st.sampled_from(["2", "-1", "1/2", "d"])).map(lambda t: f"({t[0]})^{{{t[1]}}}"),
        st.tuples(vector, matrix, vector).map(lambda t: f"{t[0]}^T {t[1]} {t[2]}"),
        matrix.map(lambda m: rf"\det({m})"), matrix.map(lambda m: rf"\operatorname{{tr}}({m})"),
        matrix.map(lambda m: rf"\log|{m}|"), vector.map(lambda v: rf"\|{v}\|^2"),
    ))
    vector = st.deferred(lambda: st.one_of(
        vector_leaf, st.tuples(vector, vector).map(lambda t: f"({t[0]} - {t[1]})"),
        st.tuples(matrix, vector).map(lambda t: f"{t[0]} {t[1]}"), st.tuples(scalar, vector).map(lambda t: f"{t[0]} {t[1]}"),
    ))
    matrix = st.deferred(lambda: st.one_of(
        matrix_leaf, matrix.map(lambda m: f"({m})^{{-1}}"), matrix.map(lambda m: f"({m})^T"),
        st.tuples(matrix, matrix).map(lambda t: f"{t[0]} {t[1]}"), st.tuples(matrix, matrix).map(lambda t: f"({t[0]} + {t[1]})"),
        st.tuples(scalar, matrix).map(lambda t: f"{t[0]} {t[1]}"), st.tuples(vector, vector).map(lambda t: f"{t[0]} {t[1]}^T"),
    ))
    return scalar


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_well_typed())
def test_fuzz_well_formed_formulas_never_crash_the_grader(text):
    start = time.process_time()
    result = grade_in_process("kl-gaussian", text, limit=2.0, symbolic=True)
    assert_well_formed(result, text)
    assert time.process_time() - start < CPU_BUDGET, "the grader ran past its 2 s limit"


def test_an_answer_undefined_on_some_instances_is_incorrect_not_an_internal_error():
    # found by the fuzz test above: μ₀μ₀ᵀ is singular for d >= 2, and looking up its batch compared tensors with ==
    result = grade_in_process("kl-gaussian", r"\det((\mu_0 \mu_0^T)^{-1})", limit=30.0, symbolic=False)
    assert result.verdict == "incorrect" and "inverts a singular matrix" in result.message, result.message


def test_isolated_worker_limits_memory_and_time(monkeypatch):
    """A worker that hangs (ignoring signals), crashes or allocates without bound costs only its own answer."""
    import signal

    from checkers.grading import isolation
    from checkers.grading.isolation import GradingPool

    real = isolation.grade_in_process

    def hostile(problem, answer, **kw):
        if answer == "HANG":
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
        if answer == "CRASH":
            os.kill(os.getpid(), signal.SIGSEGV)
        if answer == "MEMORY":
            try:
                bytearray(8 * 2 ** 30)  # 8 GiB: refused by the worker's address-space limit
            except MemoryError:
                from checkers.grading.result import invalid

                return invalid(problem, answer, "MemoryError under the worker's limit", cause="memory limit")
            raise AssertionError("8 GiB were allocated despite the memory limit")
        return real(problem, answer, **kw)

    monkeypatch.setattr(isolation, "grade_in_process", hostile)
    items = [(0, KL), (1, "HANG"), (2, KL.replace("- d", "- 1")), (3, "CRASH"), (4, "MEMORY"), (5, KL)]
    start = time.monotonic()
    with GradingPool("kl-gaussian", workers=2, time_limit=0.5, memory_mb=512) as pool:
        results = dict(pool.map(items))
        restarts = pool.restarts
    # a generous deadline: a pool that waited for the hanging worker would never return; a loaded one is slow
    assert time.monotonic() - start < 300
    assert [results[i]["verdict"] for i in range(6)] == ["correct", "invalid", "incorrect", "invalid", "invalid",
                                                          "correct"]
    assert "time limit" in results[1]["message"]
    assert "crashed" in results[3]["message"] and "signal 11" in results[3]["message"]
    assert "MemoryError" in results[4]["message"]
    assert restarts == 2


# -- hostile sizes through the command line: an `invalid` verdict, never an internal error (exit 3) -----------------
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

LONG_NUMBER = re.compile(r"\d{31,}")
HUGE = {
    "200 KB": "d+" * 100_000,
    "nested braces": "{" * 900 + "d" + "}" * 900,
    "power tower": r"d^{10^{1000}}",
    "product of powers": r"10^{10^{1000}10^{1000}}",
    "long exponent": r"d^{" + r"10^{1000}" * 6 + "}",
    "long literal": "9" * 1999,
}


def _proofcheck(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "checkers", *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("name", ["200 KB", "nested braces", "product of powers", "long exponent"])
def test_hostile_sizes_through_proofcheck_grade_are_invalid(name):
    out = _proofcheck("grade", "kl-gaussian", "-", "--json", "--no-symbolic", stdin=HUGE[name])
    assert out.returncode == 2, (out.returncode, out.stdout[-2000:], out.stderr[-2000:])
    result = json.loads(out.stdout)
    assert result["verdict"] == "invalid" and not result.get("internal_error"), result["message"]
    assert not LONG_NUMBER.search(result["message"]), result["message"]
    assert "Traceback" not in out.stderr


def test_hostile_sizes_through_check_steps_report_every_line(tmp_path):
    lines = [r"D &= \frac12\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) - \frac d2",
             *(HUGE[k] for k in ("nested braces", "power tower", "product of powers", "long exponent")),
             "1.1.1", r"\frac12\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) - \frac d2"]
    path = tmp_path / "derivation.tex"
    path.write_text(" \\\\\n".join(lines[:1] + [f"&= {x}" for x in lines[1:]]))
    out = _proofcheck("check-steps", "kl-gaussian", str(path), "--json")
    assert out.returncode != 3, (out.stdout[-2000:], out.stderr[-2000:])
    report = json.loads(out.stdout)
    assert [line["line"] for line in report["lines"]] == list(range(1, len(lines) + 1))
    assert [line["parsed"] for line in report["lines"]] == [True, False, False, False, False, False, True]
    assert report["first_invalid"] == 2
    assert not LONG_NUMBER.search(out.stdout.replace(HUGE["long literal"], "")), out.stdout[-3000:]
    assert "malformed number `1.1.1`" in report["lines"][5]["message"]
    assert "more than 300 digits" in report["lines"][3]["message"]


def test_the_grader_the_preview_and_check_steps_word_one_failure_alike(monkeypatch):
    """A limit or a bug reads the same to a student in `grade`, the server's preview and a `check-steps` line:
    one wording each (checkers.grading.failures), with only the work named differently."""
    import checkers.grading.grader as grader
    import checkers.grading.steps as steps
    from checkers.serve.tasks import read_task

    def nested(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    def broken(*args, **kwargs):
        raise KeyError("printer table")

    for failure, expected, internal in ((nested, "stopped: it is nested too deeply", False),
                                        (broken, "internal error while", True)):
        monkeypatch.setattr(grader, "parse_answer", failure)
        monkeypatch.setattr(steps, "parse_answer", failure)
        monkeypatch.setattr("checkers.grading.parse.parse_answer", failure)
        graded = grade_in_process("kl-gaussian", KL, limit=2.0).to_json()
        read = read_task("kl-gaussian", KL, limit=2.0)
        line = steps.check_steps_in_process("kl-gaussian", KL)["lines"][0]
        assert graded["message"].startswith(f"grading this answer {expected}" if not internal
                                            else f"{expected} grading this answer")
        assert read["message"].startswith(f"reading this answer {expected}" if not internal
                                          else f"{expected} reading this answer")
        assert line["message"].startswith(f"reading this line {expected}" if not internal
                                          else f"{expected} reading this line")
        assert graded["verdict"] == "invalid" and read["ok"] is False and line["parsed"] is False
        assert bool(read.get("internal_error")) == bool(line.get("internal_error")) == internal
        if internal:
            assert "a bug in proofcheck, not in what you wrote" in graded["message"]


# -- structured fuzzing: formulas built from each problem's own symbols (issue 19, item 12) -------------------------
# Random characters rarely reach the builder and the evaluator with something they have to think about: these
# formulas are grammatical and use every problem's declared names, families with index expressions at and past
# their ranges, entries of declared matrices, nested extrema and sums, indicators, and products such as μ₀μ₀ᵀ
# whose inverse does not exist. CI runs them derandomized with a larger budget than a local run.
STRUCTURED_EXAMPLES = 1500 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 60
INDEX_LETTERS = ("i", "j", "k")
BINARY = ("({} + {})", "({} - {})", "{} {}", r"\frac{{{}}}{{{}}}", r"{} \cdot {}", r"\max({}, {})")
UNARY = ("({})^{{-1}}", "({})^T", "{}^T", "({})^{{2}}", "{}'", "{0} {0}^T", r"\det({})", r"\operatorname{{tr}}({})",
         r"\log({})", r"\exp({})", r"\sqrt{{{}}}", "|{}|", r"\|{}\|", r"\log {}", r"\sin {0} \cos {0}")
REDUCTIONS = (r"\max", r"\min", r"\sum")


@functools.cache  # one strategy per problem (building strategies in every draw grows memory without bound)
def _structured(pid):
    """Random formulas for problem `pid` from its own symbols (LaTeX; many are wrong or invalid, none may crash)."""
    import sympy as sp

    from checkers.grading.catalog import get_problem

    problem = get_problem(pid)
    dims = [name if len(name) == 1 else f"{name.split('_')[0]}_{{{name.split('_')[1]}}}" for name in problem.dim_ranges]
    index = st.sampled_from(["1", "0", "2", *INDEX_LETTERS, "i+j-1", "k-1"]
                            + [f"{d}{extra}" for d in dims for extra in ("", "+1", "-1")])
    leaves = [st.sampled_from(["1", "2", "0", r"\frac12", "-1", r"\pi", *dims])]
    for s in problem.symbols:
        spelling = s.latex.split("_")[0] if s.family else s.latex
        if s.family:
            leaves.append(index.map(lambda i, b=spelling: f"{b}_{{{i}}}"))
        elif isinstance(s.target, sp.MatrixSymbol) and s.target.shape[1] != 1 and "_" not in spelling:
            leaves.append(st.just(spelling))
            leaves.append(st.tuples(index, index).map(lambda t, b=spelling: f"{b}_{{{t[0]}, {t[1]}}}"))
            leaves.append(st.sampled_from([f"{spelling}_{{ij}}", f"{spelling}_{{ji}}"]))
        else:
            leaves.append(st.just(spelling))
    vectors = [s.latex for s in problem.symbols if isinstance(s.target, sp.MatrixSymbol) and s.target.shape[1] == 1]
    squares = [s.latex for s in problem.symbols
               if isinstance(s.target, sp.MatrixSymbol) and s.target.shape[0] == s.target.shape[1]]
    if vectors or squares:  # scalars made of matrix expressions: det, trace, quadratic forms (outer products included)
        square = st.sampled_from(squares + [f"{v} {w}^T" for v in vectors for w in vectors])
        matrix = st.recursive(square, lambda m: st.one_of(
            st.tuples(st.sampled_from(("({})^{{-1}}", "({})^T", "2 {}")), m).map(lambda t: t[0].format(t[1])),
            st.tuples(st.sampled_from(("{} {}", "({} + {})", "({} - {})")), m, m).map(lambda t: t[0].format(t[1], t[2])),
        ), max_leaves=4)
        leaves.append(st.tuples(st.sampled_from((r"\det({})", r"\operatorname{{tr}}({})", r"\log\det({})", "|{}|")),
                                matrix).map(lambda t: t[0].format(t[1])))
        if vectors:
            vector = st.sampled_from(vectors)
            leaves.append(st.tuples(vector, matrix, vector).map(lambda t: f"{t[0]}^T {t[1]} {t[2]}"))
    base = st.one_of(*leaves)

    def extend(e):
        letter = st.sampled_from(INDEX_LETTERS)
        bound = st.sampled_from(["1", "0", *dims]) if dims else st.just("3")
        return st.one_of(
            st.tuples(st.sampled_from(BINARY), e, e).map(lambda t: t[0].format(t[1], t[2])),
            st.tuples(st.sampled_from(UNARY), e).map(lambda t: t[0].format(t[1])),
            st.tuples(st.sampled_from(REDUCTIONS), letter, e).map(lambda t: f"{t[0]}_{t[1]} {t[2]}"),
            st.tuples(st.sampled_from(REDUCTIONS), st.sampled_from(REDUCTIONS), e).map(
                lambda t: f"{t[0]}_i {t[1]}_j {t[2]}"),
            st.tuples(st.sampled_from(REDUCTIONS), letter, bound, bound, e).map(
                lambda t: f"{t[0]}_{{{t[1]}={t[2]}}}^{{{t[3]}}} {t[4]}"),
            st.tuples(e, st.sampled_from(["=", ">", "<", r"\ge", r"\ne"]), e).map(
                lambda t: rf"\mathbb{{1}}[{t[0]} {t[1]} {t[2]}]"),
        )

    return st.recursive(base, extend, max_leaves=10)


def _structured_case():
    from checkers.grading.catalog import problems

    pids = sorted(pid for pid, p in problems().items() if not p.exact)
    return st.sampled_from(pids).flatmap(lambda pid: st.tuples(st.just(pid), _structured(pid), st.booleans()))


@settings(max_examples=STRUCTURED_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=st.deferred(_structured_case))
def test_fuzz_structured_formulas_from_each_problems_symbols_never_crash_the_grader(case):
    problem, text, symbolic = case
    start = time.process_time()
    result = grade_in_process(problem, text, limit=2.0, symbolic=symbolic)
    assert not result.internal_error, (problem, text, result.message)
    assert time.process_time() - start < CPU_BUDGET, (problem, text, "the grader ran past its 2 s limit")


@pytest.mark.parametrize("problem, text", [
    ("lse-limit", r"\max_i \max_j x_j"),
    ("mutual-information", r"P_{1, n_y+1}"),
    ("kl-gaussian", r"\det((\mu_0 \mu_0^T)^{-1})"),
])
def test_answers_that_were_internal_errors_get_a_verdict_with_a_reason(problem, text):
    result = grade_in_process(problem, text, limit=2.0)
    assert not result.internal_error, result.message
    assert result.verdict in ("correct", "incorrect", "invalid") and result.message
    if problem == "mutual-information":
        assert result.verdict == "invalid" and "outside" in result.message
    if problem == "kl-gaussian":
        assert result.verdict == "incorrect" and "singular" in result.message
    if problem == "lse-limit":  # max over i of max_j x_j is max_j x_j
        assert result.verdict == "correct"
