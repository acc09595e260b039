r"""The class analysis page: verdict counts, ranked misconceptions, clusters of equal wrong answers, invalid reasons."""

import re
from html import unescape

import numpy as np
import pytest

from checkers.cli import main
from checkers.grading import grade_csv
from checkers.grading.analysis import cluster

from answer_csv import write

KL = r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)"
NO_HALF = [  # the reference without its ½, five ways
    r"\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}",
    r"\log\frac{\det\Sigma_1}{\det\Sigma_0} - d + \mathrm{tr}(\Sigma_0\Sigma_1^{-1}) + (\mu_0-\mu_1)^T\Sigma_1^{-1}(\mu_0-\mu_1)",
    "tr(inv(S1)*S0) + (mu1-mu0)'*inv(S1)*(mu1-mu0) - d + log(det(S1)/det(S0))",
    r"\ln|\Sigma_1| - \ln|\Sigma_0| + \operatorname{tr}(\Sigma_1^{-1}\Sigma_0) - d + (\mu_1-\mu_0)'\Sigma_1^{-1}(\mu_1-\mu_0)",
    r"2\cdot\frac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)",
]
SWAPPED = [  # the trace arguments swapped, four ways
    KL.replace(r"\Sigma_1^{-1}\Sigma_0)", r"\Sigma_0^{-1}\Sigma_1)"),
    KL.replace(r"\operatorname{tr}(\Sigma_1^{-1}\Sigma_0)", r"\mathrm{tr}(\Sigma_1\Sigma_0^{-1})"),
    "0.5*(tr(inv(S0)*S1) + (mu1-mu0)'*inv(S1)*(mu1-mu0) - d + log(det(S1)/det(S0)))",
    "1/2*(tr(S1*inv(S0)) + (mu0-mu1)'*inv(S1)*(mu0-mu1) - d + log(det(S1)) - log(det(S0)))",
]
ROWS = ([(f"half{i}", a) for i, a in enumerate(NO_HALF)] + [(f"swap{i}", a) for i, a in enumerate(SWAPPED)]
        + [("ok0", KL), ("ok1", "0.5*(tr(inv(S1)*S0) + (mu1-mu0)'*inv(S1)*(mu1-mu0) - d + log(det(S1)/det(S0)))"),
           ("odd", KL + " + 5"), ("odd2", "5 + " + KL), ("lone", KL + " + d^2"), ("bad0", r"\Sigma_2 + d"), ("bad1", r"\Sigma_3"),
           ("<script>alert('id')</script>", r"\frac{<b>}{2}")])


def _text(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    src = write(root / "answers.csv", ROWS)
    summary = grade_csv("kl-gaussian", src, root / "graded.csv", analysis=root / "class.html", workers=2,
                        progress=False)
    assert summary.analysis == root / "class.html"
    return root / "class.html"


def test_clusters_of_equal_wrong_answers_are_found_and_described(page):
    html = page.read_text(encoding="utf-8")
    text = _text(html)
    assert "correct 2" in text and "incorrect 12" in text and "invalid 3" in text
    clusters = text[text.index("Wrong answers that are equal to each other"):text.index("Why answers were invalid")]
    # The reference without its ½, however written: described by the named misconception it matches.
    assert "5 answers equal the known mistake “the factor ½ in front is missing”" in clusters
    assert re.search(r"4 answers equal the known mistake “the trace arguments are swapped", clusters)
    assert "2 answers equal one another; the grader's diagnosis: your answer differs from the reference by a " \
           "constant: it is the reference + 5" in clusters  # no named mistake matches: the generic diagnosis
    assert "1 wrong answers equal no other wrong answer" in clusters
    assert clusters.index("5 answers equal") < clusters.index("4 answers equal")  # largest first
    for i in range(5):
        assert f"half{i}" in clusters or i >= 3  # three examples are shown per cluster


def test_misconceptions_are_ranked_and_invalid_reasons_grouped(page):
    text = _text(page.read_text(encoding="utf-8"))
    mis = text[text.index("Misconceptions, ranked"):text.index("Wrong answers that are equal")]
    assert re.search(r"the trace arguments are swapped.*\(named\) 4", mis)
    assert re.search(r"the factor ½ in front is missing.*\(named\) 5", mis)
    assert mis.index("factor ½") < mis.index("trace arguments")  # ranked by count
    invalid = text[text.index("Why answers were invalid"):]
    # \Sigma_2 and \Sigma_3 were refused by the same statement of the grader: one reason, counted twice, labelled with
    # what the first was told; the unreadable '<' is another.
    assert re.search(r"unknown symbol \\Sigma_2; this problem's symbols are .*? 2 ", invalid)
    assert "unknown symbol \\Sigma_3" in invalid and "unexpected '<'" in invalid


def test_student_text_is_escaped_and_the_page_is_offline(page):
    html = page.read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;id&#39;)&lt;/script&gt;" in html
    assert "<b>" not in html
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", html)  # nothing loaded from anywhere
    assert html.count('src="data:image/png;base64,') == 1


def test_cluster_merges_rounding_differences_and_keeps_nan_apart():
    base = np.linspace(1, 2, 12)
    prints = np.stack([base, base * (1 + 1e-13), base + 1, np.full(12, np.nan), np.full(12, np.nan), base])
    groups = cluster(prints, rtol=1e-7, atol=0.0)
    assert groups == [[0, 1, 5], [3, 4], [2]]


def test_cli_analysis_and_refusals(tmp_path, capsys):
    src = write(tmp_path / "a.csv", ROWS[:6])
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--analysis", str(tmp_path / "c.html"), "--workers",
                 "1"]) == 0
    assert "c.html" in capsys.readouterr().out and (tmp_path / "c.html").exists()
    assert main(["grade", "kl-gaussian", KL, "--analysis", str(tmp_path / "d.html")]) == 2  # needs --csv


# --- in a real browser, as the reports are ---
# (the `browser` fixture: tests/conftest.py)


PAGE = """
const img = document.querySelector('#verdicts img');
const rows = Array.from(document.querySelectorAll('#clusters tr.cluster'));
return {title: document.title, h1: document.querySelector('h1').textContent,
        img: img && [img.naturalWidth, img.naturalHeight, img.complete],
        clusters: rows.map(r => r.children[1].textContent),
        scripts: document.scripts.length,
        resources: performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:')),
        bodyWidth: document.body.getBoundingClientRect().width};
"""


def test_the_page_in_headless_chromium(page, browser):
    browser.get(page.as_uri())
    got = browser.execute_script(PAGE)
    assert got["title"] == "kl-gaussian — class analysis" and got["h1"].startswith("kl-gaussian")
    width, height, complete = got["img"]
    assert complete and width == 900 and height == 320  # the embedded PNG decoded
    assert got["clusters"][0] == "5 answers equal the known mistake “the factor ½ in front is missing”"
    assert got["clusters"][1].startswith("4 answers equal the known mistake")
    assert got["scripts"] == 0 and got["resources"] == []  # no script ran, nothing was fetched
    assert "<script>alert('id')</script>" in browser.find_element("css selector", "#invalid").text
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []


def test_resuming_a_run_started_without_analysis_still_clusters_every_answer(tmp_path):
    src = write(tmp_path / "a.csv", ROWS)
    seen = []

    def interrupt(row, doc):
        seen.append(row.id)
        if len(seen) == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_csv("kl-gaussian", src, tmp_path / "o.csv", workers=1, progress=False, on_result=interrupt)
    summary = grade_csv("kl-gaussian", src, tmp_path / "o.csv", analysis=tmp_path / "c.html", workers=1,
                        progress=False)
    assert summary.resumed == 8  # graded without fingerprints; they are evaluated in workers for the page
    text = _text((tmp_path / "c.html").read_text(encoding="utf-8"))
    assert "5 answers equal the known mistake “the factor ½ in front is missing”" in text
    assert "could not be evaluated again" not in text


def _brute_force_clusters(prints, rtol, atol):
    """The reference partition: rows equal after rounding (the page's buckets) are one group, and two buckets are
    joined when their first rows are close in every entry (|a − b| ≤ atol + rtol·max(|a|, |b|), NaN with NaN, an
    infinity with itself), every pair of buckets compared."""
    from checkers.grading.analysis import _keys

    keys = _keys(prints).tolist()
    buckets = {}
    for i, k in enumerate(keys):
        buckets.setdefault(k, []).append(i)
    groups = list(buckets.values())
    parent = list(range(len(groups)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    with np.errstate(invalid="ignore"):
        for i in range(len(groups)):
            for j in range(i):
                a, b = prints[groups[i][0]], prints[groups[j][0]]
                close = (np.isfinite(a) & np.isfinite(b) & (np.abs(a - b) <= atol + rtol * np.maximum(abs(a), abs(b)))) \
                    | (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
                if close.all():
                    parent[find(i)] = find(j)
    merged = {}
    for gi, g in enumerate(groups):
        merged.setdefault(find(gi), []).extend(g)
    return sorted((sorted(g) for g in merged.values()), key=lambda g: (-len(g), g[0]))


def _hostile_prints(seed, n=400, width=12):
    """Fingerprints with near-duplicates straddling rounding boundaries, within and just outside the tolerance, NaN,
    ±inf, zeros, tiny and huge values."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n // 4, width)) * 10.0 ** rng.integers(-12, 12, size=(n // 4, 1))
    base[rng.random(base.shape) < 0.05] = np.nan
    base[rng.random(base.shape) < 0.03] = np.inf
    base[rng.random(base.shape) < 0.03] = -np.inf
    base[rng.random(base.shape) < 0.03] = 0.0
    rows = [base]
    for scale in (0.3e-7, 0.9e-7, 1.1e-7, 3e-7):  # relative moves around rtol = 1e-7
        moved = base * (1 + scale * rng.choice([-1, 1], size=base.shape))
        rows.append(moved[rng.random(len(base)) < 0.5])
    boundary = 1.0 + 5e-8 * np.arange(1, 9)  # 1.00000005, 1.0000001, ...: across the 8-digit rounding grid
    rows.append(np.outer(boundary, np.ones(width)))
    prints = np.concatenate(rows)
    return prints[rng.permutation(len(prints))]


@pytest.mark.parametrize("seed", range(4))
def test_cluster_equals_the_all_pairs_partition(seed):
    prints = _hostile_prints(seed)
    print(f"seed {seed}")
    assert cluster(prints, rtol=1e-7, atol=1e-12) == _brute_force_clusters(prints, 1e-7, 1e-12)
    assert cluster(prints, rtol=1e-7, atol=1e-3) == _brute_force_clusters(prints, 1e-7, 1e-3)


def test_cluster_compares_only_candidate_pairs_not_every_pair():
    """Near linear: 20,000 distinct answers give about as many candidate comparisons as answers, not 2·10⁸."""
    from checkers.grading.analysis import candidate_pairs

    rng = np.random.default_rng(0)
    prints = rng.normal(size=(20_000, 32))
    prints[::7, :16] = 1.0  # many answers agree on half the entries: the candidates come from the other half
    left, right = candidate_pairs(prints, rtol=1e-7, atol=1e-7)
    assert len(left) <= len(prints)
    assert len(cluster(prints, rtol=1e-7, atol=1e-7)) == 20_000


def test_control_characters_and_undecodable_bytes_never_reach_the_page():
    """Student text holding NUL, ESC or other control characters (and ids with bytes that were not UTF-8) is shown
    as \\xNN: the page is valid UTF-8 text with no control character but newline and tab."""
    from checkers.grading.analysis import analyse, render

    class Row:
        def __init__(self, ident, answer):
            self.id, self.answer = ident, answer

    hostile = "d\x00\x1b[2J\x07\x7f\x9b"
    wrong = {"verdict": "incorrect", "message": "no", "feedback": [{"id": "zero", "message": "fb\x00\x1b"}]}
    entries = [(Row("nul\x00id\udcff", hostile), wrong, [1.0, 2.0]), (Row("esc\x1b", hostile), wrong, [1.0, 2.0]),
               (Row("x", hostile), {"verdict": "invalid", "message": "bad \x00\x1b char"}, None)]
    page = render(analyse("kl-gaussian", entries))
    page.encode("utf-8")  # strict: a lone surrogate would raise
    controls = [c for c in page if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    assert not controls, controls
    assert "d\\x00\\x1b[2J" in page and "nul\\x00id\\xff" in page and "bad \\x00\\x1b char" in page
