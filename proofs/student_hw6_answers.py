r"""The final formulas of the submitted Homework 6 solution (student-hw6), transcribed for the grader.

Main contents
-------------
`ANSWERS`: one `SubmittedAnswer` per final formula of the submission that a gradeable problem can judge:
`problem` is the grader's problem id, `answer` the student's formula as LaTeX, `where` the place in the
submission; for a wrong answer, `mistakes` names each wrong term (`Mistake`: the term as written, what
belongs there, the line of the student's work where it first appears, why); `remarks` are slips on the
way that do not change the final formula; `uncertain` says where the transcription is uncertain.
`ALTERNATIVE_READINGS` holds the readings of ambiguous OCR that were *not* chosen, so that the choice
can be checked. `RUBRIC_GRADED`: the answers that are arguments, graded by hand against a stated rubric
(`RubricGrade`, `RubricItem`: marks, criterion, marks given, reason). `NOT_GRADED`: the problems of the
submission that are not graded, each as (where, why); the why starts in lower case and has no final full
stop. Every problem of the submission is in `ANSWERS`, `RUBRIC_GRADED` or `NOT_GRADED`. `where` gives the
student's problem number with the set's in parentheses.

Fields with LaTeX: `answer`, `Mistake.term`, `Mistake.correct` (math, without `$`); `Mistake.why`,
`Mistake.first_appears` and both fields of `NOT_GRADED` are prose with inline `$...$` math; `remarks`
and `uncertain` are plain prose (Unicode, no LaTeX).

Source
------
Transcribed from `shared/seeds/001_bdfcf43c6002a42f.txt`, the OCR of one student's handwritten
solution; "seed line N" below is a line of that file. The student numbers the problems of
hw6-2021 as 1, 2, then an extra Problem 3 (a convolution gradient), so their Problem 4 is hw6-2021
P3 (the Gaussian change of variables) and their Problem 6 is hw6-2021 P5 (the Gaussian KL).

Implementation notes
--------------------
What the student wrote is kept, mistakes included; nothing is corrected. Changes of notation only,
each said where it is made: the student's dimension N is the grader's n; Python code (Problem 1)
is written as the formula it computes, with `running_var` as σ²; a "…" that the grammar cannot read
is written as the sum it abbreviates. Where the OCR is ambiguous, the comment names the reading
chosen and why. The answers are graded in the student-hw6 report (`checkers.reporting.graded`).

This module defines no DERIVATIONS: it is data, and `checkers.registry` collects nothing from it.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ALTERNATIVE_READINGS", "ANSWERS", "Mistake", "NOT_GRADED", "RUBRIC_GRADED", "RubricGrade", "RubricItem",
           "SubmittedAnswer"]


class Mistake(NamedTuple):
    """One wrong term of a submitted formula: as written, what belongs there, where it first appears, why."""

    term: str  # LaTeX math: the term as the student wrote it
    correct: str  # LaTeX math: what belongs there
    first_appears: str  # the line of the student's work where the wrong term first appears
    why: str  # one sentence, inline $...$ math allowed


class SubmittedAnswer(NamedTuple):
    """One final formula of the submission: grader problem id, the student's LaTeX, where it is, what is wrong."""

    problem: str
    answer: str
    where: str
    mistakes: tuple[Mistake, ...] = ()  # empty for a correct answer
    remarks: tuple[str, ...] = ()  # slips on the way that do not change the final formula
    uncertain: tuple[str, ...] = ()  # where the transcription of the scan is uncertain
    line: int | None = None  # the line of the submission's file where the formula ends (its last row)


ANSWERS: tuple[SubmittedAnswer, ...] = (
    # Problem 1, the notebook cell "Initialize the following parameters": for conv1
    #     model_test.conv1[0].weight.data = model.conv1[0].weight * conv1_bn_gamma.reshape(-1,1,1,1) \
    #                                       / torch.sqrt(conv1_bn_var.reshape(-1,1,1,1) + eps)
    # (fc1, seed lines 105-107, is the same formula with the factors swapped; the conv2 line, seed lines
    # 99-101, lost its line continuation and "eps)" to the page break, so conv1 is the one transcribed.)
    SubmittedAnswer("bn-fold-weight", r"\frac{W \gamma}{\sqrt{\sigma^2 + \epsilon}}",
                    "Problem 1 (set Problem 1), the folded conv1 weight in the code", line=95,
                    uncertain=("The conv2 weight line lost its line continuation and “eps)” at a page break; the conv1 line, "
                               "complete in the scan, is the one read. The fc1 line is the same formula with the "
                               "factors swapped.",)),
    #     model_test.conv1[0].bias.data = conv1_bn_beta + conv1_bn_gamma * (model.conv1[0].bias - conv1_bn_mean) \
    #                                     / torch.sqrt(conv1_bn_var + eps)
    # Python evaluates gamma * (b - mean) / sqrt(...) left to right, so the whole of γ(b − μ) is divided.
    SubmittedAnswer("bn-fold-bias", r"\beta + \frac{\gamma (b - \mu)}{\sqrt{\sigma^2 + \epsilon}}",
                    "Problem 1 (set Problem 1), the folded conv1 bias in the code", line=98),
    # Problem 2, the last line: y_L ~ (0, 1/(3 n_{L1}) + 1/(3^2 n_{L2}) + … + 1/(3^1 n_o) + 1/3^2) in the OCR.
    # Reading chosen: n_{L1}, n_{L2} are n_{L-1}, n_{L-2} (the minus signs lost), n_o is n_0, and the
    # exponents "1" and "2" of the last two terms are L. Why: the student's own lines for y_1 (seed line
    # 135: 1/3 + 1/(3 n_0)) and y_2 (seed line 144: 1/(3 n_1) + 1/(3^2 n_0) + 1/3^2) are this formula at
    # L = 1 and L = 2, while literal exponents 1 and 2 would contradict line 144. The "…" is written as
    # the sum it abbreviates, in the student's order: the k-th term is 1/(3^k n_{L-k}).
    SubmittedAnswer("kaiming-variance", r"\sum_{k=1}^{L} \frac{1}{3^{k} n_{L-k}} + \frac{1}{3^{L}}",
                    "Problem 2 (set Problem 2), the variance of the output $y_L$", line=150,
                    uncertain=("The scan gives the widths the subscripts L1, L2 and o, and the last two terms the "
                               "exponents 1 and 2; read as L − 1, L − 2 and 0, and both exponents as L, which the "
                               "student's own lines for y₁ and y₂ confirm. Read "
                               "literally, the answer is wrong for L ≠ 2 (graded as an alternative reading).",)),
    # Problem 4, the last line: f_X(x) = 1/((2π)^N det(Σ)) exp{−½ (x − b)^T Σ^{-1} (x − b)^T ] in the OCR.
    # The square root of the previous line's (2π)^{-N/2} det(A)^{-1} is missing: that is the student's.
    # Reading chosen for the end of the exponent: the OCR's "(x − b)^{T} \right]" stands where the brace
    # opened by "\exp\{" must close, on this row and the one before, while the row before that (with
    # parentheses, no brace) ends in a plain (x − b); so the trailing "^T" is read as the closing brace.
    # Read literally it makes the exponent a row vector and the answer ungradable (ALTERNATIVE_READINGS).
    SubmittedAnswer("gaussian-density",
                    r"\frac{1}{(2\pi)^{n} \det(\Sigma)} \exp\{-\frac{1}{2}(x - b)^{T} \Sigma^{-1}(x - b)\}",
                    "Problem 4 (set Problem 3), the final density", line=171,
                    mistakes=(Mistake(
                        term=r"\frac{1}{(2\pi)^{n} \det(\Sigma)}",
                        correct=r"\frac{1}{\sqrt{(2\pi)^{n} \det\Sigma}}",
                        first_appears=r"row 6 of the derivation, where $(2\pi)^{-N/2}\det(A)^{-1}$ "
                                      r"of row 5 is rewritten in terms of $\Sigma$",
                        why=r"The square root is missing: $\det\Sigma = \det(A)^2$ (the student's own remark in that "
                            r"row) gives $|\det A|^{-1} = (\det\Sigma)^{-1/2}$, and $(2\pi)^{-n/2}$ is not "
                            r"$(2\pi)^{-n}$."),),
                    remarks=("Row 2 writes |dx/dy| = det(A) and row 5 carries det(A)⁻¹; the change of variables "
                             "needs |det A|⁻¹ (the density would be negative for det A < 0). It does not change the "
                             "final formula, which is written with det Σ > 0.",),
                    uncertain=("The last row ends in (x − b)ᵀ and a closing bracket in the scan; the trailing ᵀ is "
                               "read as the brace that closes exp{. Read literally the exponent is a row vector and "
                               "the answer cannot be graded (graded as an alternative reading).",)),
    # Problem 6 (hw6-2021 P5): the derivation in seed line 229 (rows separated by \\) is cut off, and
    # from its eighth row on the OCR repeats one line with varying subscripts, so there is no boxed final
    # formula. Transcribed: the first row in final form (the seventh, repeated verbatim in the eighth),
    # as the OCR reads it. Its middle term "−tr(Σ_1^{-1})" is uncertain (the ninth row reads
    # −tr(Σ_0^{-1}), and the sixth row, −½ tr(Σ_0^{-1} E(X − μ_0)(X − μ_0)^T), leads to −tr(Σ_0^{-1}Σ_0));
    # the other readings are in ALTERNATIVE_READINGS. Under every reading the determinant ratio is
    # det Σ_0 / det Σ_1 (already so in the third row, the expanded log-ratio) and the mean term
    # (μ_1 − μ_0)^T Σ_1^{-1} (μ_1 − μ_0) is absent.
    SubmittedAnswer("kl-gaussian",
                    r"\frac{1}{2} \left[\log \left(\frac{\det \Sigma_{0}}{\det \Sigma_{1}}\right) "
                    r"- tr(\Sigma_{1}^{-1}) + tr(\Sigma_{1}^{-1}\Sigma_{0})\right]",
                    "Problem 6 (set Problem 5), the closed form (row 7 of the derivation)", line=229,
                    mistakes=(
                        Mistake(term=r"\log\frac{\det\Sigma_0}{\det\Sigma_1}",
                                correct=r"\log\frac{\det\Sigma_1}{\det\Sigma_0}",
                                first_appears="row 3 of the derivation, the expanded log-density ratio",
                                why=r"The determinant ratio is inverted: $\log p_0(x) - \log p_1(x)$ contains "
                                    r"$-\tfrac12\log\det\Sigma_0 + \tfrac12\log\det\Sigma_1$, since "
                                    r"$p_i(x) \propto (\det\Sigma_i)^{-1/2}$."),
                        Mistake(term=r"-\operatorname{tr}(\Sigma_1^{-1})",
                                correct=r"-\operatorname{tr}(\Sigma_0^{-1}\Sigma_0) = -d",
                                first_appears="row 7 of the derivation, the first row in final form",
                                why=r"Row 6 has $-\tfrac12\operatorname{tr}(\Sigma_0^{-1}\,\mathbb{E}[(X-\mu_0)"
                                    r"(X-\mu_0)^\top])$, and $\mathbb{E}[(X-\mu_0)(X-\mu_0)^\top] = \Sigma_0$ makes it "
                                    r"$-\tfrac12\operatorname{tr}(I_d) = -\tfrac d2$; the covariance was dropped from "
                                    r"the trace."),
                        Mistake(term=r"\operatorname{tr}(\Sigma_1^{-1}\Sigma_0)",
                                correct=r"\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}"
                                        r"(\mu_1-\mu_0)",
                                first_appears=r"row 7 of the derivation; row 6, where "
                                              r"$\mathbb{E}[(X-\mu_1)(X-\mu_1)^\top]$ would be evaluated, is cut off "
                                              r"in the scan",
                                why=r"The quadratic term is missing: $\mathbb{E}[(X-\mu_1)(X-\mu_1)^\top] = \Sigma_0 + "
                                    r"(\mu_0-\mu_1)(\mu_0-\mu_1)^\top$ for $X \sim \mathcal{N}(\mu_0, \Sigma_0)$, not "
                                    r"$\Sigma_0$ (that holds only when $\mu_1 = \mu_0$)."),
                    ),
                    uncertain=("The derivation is cut off after row 7 and from row 8 on the OCR repeats one line with "
                               "varying subscripts, so there is no boxed final formula: row 7 is transcribed.",
                               "The middle term reads −tr(Σ₁⁻¹) in row 7 and −tr(Σ₀⁻¹) in row 9; row 6 leads to "
                               "−tr(Σ₀⁻¹Σ₀). Every reading is graded: "
                               r"all are wrong, because the determinant ratio and the quadratic term are wrong in "
                               r"every one.")),
)

NOT_GRADED: tuple[tuple[str, str], ...] = ()  # every problem of the submission is graded, by formula or by rubric


class RubricItem(NamedTuple):
    """One criterion of a rubric: its marks, what earns them, the marks given and the reason (prose, inline math)."""

    points: float
    criterion: str
    awarded: float
    reason: str


class RubricGrade(NamedTuple):
    """A reasoning answer graded by hand against a stated rubric: where it is, the question, the criteria."""

    where: str  # the student's problem number with the set's in parentheses
    question: str  # what is asked, in one line (prose, inline math)
    items: tuple[RubricItem, ...]


# Answers that are arguments, not formulas: graded by rubric on what is legible in the scan (seed lines
# 152-167 for Problem 3, 179-187 for Problem 5(a), 199-225 for Problem 5(b)).
RUBRIC_GRADED: tuple[RubricGrade, ...] = (
    RubricGrade(
        "Problem 3 (not in the set; the question of hw7-2024 Problem 4(a))",
        r"the gradients $\partial y_L/\partial b_\ell$ and $\partial y_L/\partial w_\ell$ of a 1-D "
        r"convolutional network",
        (RubricItem(1, r"$\partial y_L/\partial b_L = 1$", 1, r"correct as written."),
         RubricItem(1, r"$\partial y_L/\partial b_\ell = v_\ell \mathbf{1}_{n_\ell}$ by the chain rule", 0.5,
                    r"the chain rule with $\partial(b_\ell \mathbf{1}_{n_\ell})/\partial b_\ell = "
                    r"\mathbf{1}_{n_\ell}$ is right, but $\partial y_L/\partial \rho_\ell$ is written as "
                    r"$\mathrm{diag}(\sigma'(A_{w_\ell} y_{\ell-1} + b_\ell \mathbf{1}_{n_\ell}))$ without the "
                    r"factor $\partial y_L/\partial y_\ell$; it should be $v_\ell = \frac{\partial y_L}{\partial "
                    r"y_\ell}\mathrm{diag}(\sigma'(\cdot))$."),
         RubricItem(1, r"$\partial y_L/\partial w_L = y_{L-1}^\top$", 1,
                    r"correct: differentiating $\sum_i w_{L,i}\, y_{L-1,i} + b_L$ gives $y_{L-1}^\top$."),
         RubricItem(1, r"$\partial y_L/\partial w_\ell = (\mathcal{C}_{v_\ell^\top} y_{\ell-1})^\top$", 1,
                    r"correct in entries: $(\partial y_L/\partial w_\ell)_k = \sum_i (v_\ell^\top "
                    r"y_{\ell-1}^\top)_{i,k+i-1}$ is the convolution of $y_{\ell-1}$ with the filter "
                    r"$v_\ell^\top$."),
         )),
    RubricGrade(
        "Problem 5(a) (set Problem 4(a))",
        r"$D_{\mathrm{KL}}(X \| Y) \ge 0$",
        (RubricItem(1, r"writes $D_{\mathrm{KL}} = \int f\,(-\log(g/f))$", 1, r"correct."),
         RubricItem(1, r"uses $-\log t \ge 1 - t$ at $t = g(x)/f(x)$", 1, r"correct."),
         RubricItem(1, r"concludes $\int f - \int g \ge 0$", 0.5,
                    r"the last line writes $\int g(x)/g(x)\,dx$ where $\int g(x)\,dx$ belongs, and the bound is "
                    r"used where $f = 0$ too; it should integrate over $\{f > 0\}$, where $\int_{f > 0} g \le 1$ "
                    r"still gives $1 - \int_{f>0} g \ge 0$."),
         )),
    RubricGrade(
        "Problem 5(b) (set Problem 4(b))",
        r"$D_{\mathrm{KL}}$ of independent coordinates is the sum of the coordinates' $D_{\mathrm{KL}}$",
        (RubricItem(1, r"the logarithm of the product density is the sum of the coordinates' logarithms", 1,
                    r"correct."),
         RubricItem(1, r"each term integrates the other coordinates' densities to 1", 0.5,
                    r"the plan is right, but the marginal integrals are written $\int f(x_{i-1})/g(x_i)\,dx_{i+1}$ "
                    r"and $f(x_i)$ stands for $f_i(x_i)$; each should be $\int f_j(x_j)\,dx_j = 1$ for $j \ne i$."),
         RubricItem(1, r"concludes $\sum_i D_{\mathrm{KL}}(X_i \| Y_i)$", 1, r"correct."),
         )),
)


ALTERNATIVE_READINGS: tuple[SubmittedAnswer, ...] = (
    # The density with the OCR's trailing ^T kept: (x − b)^T Σ^{-1} (x − b)^T is not a scalar.
    SubmittedAnswer("gaussian-density",
                    r"\frac{1}{(2\pi)^{n} \det(\Sigma)} \exp\{-\frac{1}{2}(x - b)^{T} \Sigma^{-1}(x - b)^{T}\}",
                    "Problem 4 (set Problem 3), the last row read literally"),
    # Problem 2 with the OCR's exponents 1 and 2 on the last two terms taken literally.
    SubmittedAnswer("kaiming-variance",
                    r"\sum_{k=1}^{L-1} \frac{1}{3^{k} n_{L-k}} + \frac{1}{3 n_{0}} + \frac{1}{3^{2}}",
                    "Problem 2 (set Problem 2), the exponents read literally"),
    # The Gaussian KL with the middle term of the ninth row, and with the one the sixth row leads to.
    SubmittedAnswer("kl-gaussian",
                    r"\frac{1}{2} \left[\log \left(\frac{\det \Sigma_{0}}{\det \Sigma_{1}}\right) "
                    r"- tr(\Sigma_{0}^{-1}) + tr(\Sigma_{1}^{-1}\Sigma_{0})\right]",
                    "Problem 6 (set Problem 5), row 9"),
    SubmittedAnswer("kl-gaussian",
                    r"\frac{1}{2} \left[\log \left(\frac{\det \Sigma_{0}}{\det \Sigma_{1}}\right) "
                    r"- tr(\Sigma_{0}^{-1}\Sigma_{0}) + tr(\Sigma_{1}^{-1}\Sigma_{0})\right]",
                    "Problem 6 (set Problem 5), row 6's trace carried through"),
)
