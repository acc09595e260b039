r"""The final formulas of the submitted Homework 6 solution (student-hw6), transcribed for the grader.

Main contents
-------------
`ANSWERS`: one `SubmittedAnswer(problem, answer, where)` per final formula of the submission that a
gradeable problem (`checkers.grading.catalog`) can judge: `problem` is the grader's problem id,
`answer` the student's formula as LaTeX, `where` the place in the submission. `ALTERNATIVE_READINGS`
holds the readings of ambiguous OCR that were *not* chosen, so that the choice can be checked.

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

__all__ = ["ALTERNATIVE_READINGS", "ANSWERS", "SubmittedAnswer"]


class SubmittedAnswer(NamedTuple):
    """One final formula of the submission: grader problem id, the student's LaTeX, where it is."""

    problem: str
    answer: str
    where: str


ANSWERS: tuple[SubmittedAnswer, ...] = (
    # Problem 1, the notebook cell "Initialize the following parameters": for conv1
    #     model_test.conv1[0].weight.data = model.conv1[0].weight * conv1_bn_gamma.reshape(-1,1,1,1) \
    #                                       / torch.sqrt(conv1_bn_var.reshape(-1,1,1,1) + eps)
    # (fc1, seed lines 105-107, is the same formula with the factors swapped; the conv2 line, seed lines
    # 99-101, lost its line continuation and "eps)" to the page break, so conv1 is the one transcribed.)
    SubmittedAnswer("bn-fold-weight", r"\frac{W \gamma}{\sqrt{\sigma^2 + \epsilon}}",
                    "Problem 1, code: the folded conv1 weight (seed lines 92-95)"),
    #     model_test.conv1[0].bias.data = conv1_bn_beta + conv1_bn_gamma * (model.conv1[0].bias - conv1_bn_mean) \
    #                                     / torch.sqrt(conv1_bn_var + eps)
    # Python evaluates gamma * (b - mean) / sqrt(...) left to right, so the whole of γ(b − μ) is divided.
    SubmittedAnswer("bn-fold-bias", r"\beta + \frac{\gamma (b - \mu)}{\sqrt{\sigma^2 + \epsilon}}",
                    "Problem 1, code: the folded conv1 bias (seed lines 96-98)"),
    # Problem 2, the last line: y_L ~ (0, 1/(3 n_{L1}) + 1/(3^2 n_{L2}) + … + 1/(3^1 n_o) + 1/3^2) in the OCR.
    # Reading chosen: n_{L1}, n_{L2} are n_{L-1}, n_{L-2} (the minus signs lost), n_o is n_0, and the
    # exponents "1" and "2" of the last two terms are L. Why: the student's own lines for y_1 (seed line
    # 135: 1/3 + 1/(3 n_0)) and y_2 (seed line 144: 1/(3 n_1) + 1/(3^2 n_0) + 1/3^2) are this formula at
    # L = 1 and L = 2, while literal exponents 1 and 2 would contradict line 144. The "…" is written as
    # the sum it abbreviates, in the student's order: the k-th term is 1/(3^k n_{L-k}).
    SubmittedAnswer("kaiming-variance", r"\sum_{k=1}^{L} \frac{1}{3^{k} n_{L-k}} + \frac{1}{3^{L}}",
                    "Problem 2, the general formula for the variance of the output (seed line 150)"),
    # Problem 4, the last line: f_X(x) = 1/((2π)^N det(Σ)) exp{−½ (x − b)^T Σ^{-1} (x − b)^T ] in the OCR.
    # The square root of the previous line's (2π)^{-N/2} det(A)^{-1} is missing: that is the student's.
    # Reading chosen for the end of the exponent: the OCR's "(x − b)^{T} \right]" stands where the brace
    # opened by "\exp\{" must close, on this row and the one before, while the row before that (with
    # parentheses, no brace) ends in a plain (x − b); so the trailing "^T" is read as the closing brace.
    # Read literally it makes the exponent a row vector and the answer ungradable (ALTERNATIVE_READINGS).
    SubmittedAnswer("gaussian-density",
                    r"\frac{1}{(2\pi)^{n} \det(\Sigma)} \exp\{-\frac{1}{2}(x - b)^{T} \Sigma^{-1}(x - b)\}",
                    "Problem 4, the final density (seed line 171, last row)"),
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
                    "Problem 6, the first row of the closed form (seed line 229, seventh row)"),
)

ALTERNATIVE_READINGS: tuple[SubmittedAnswer, ...] = (
    # The density with the OCR's trailing ^T kept: (x − b)^T Σ^{-1} (x − b)^T is not a scalar.
    SubmittedAnswer("gaussian-density",
                    r"\frac{1}{(2\pi)^{n} \det(\Sigma)} \exp\{-\frac{1}{2}(x - b)^{T} \Sigma^{-1}(x - b)^{T}\}",
                    "Problem 4, seed line 171 read literally"),
    # Problem 2 with the OCR's exponents 1 and 2 on the last two terms taken literally.
    SubmittedAnswer("kaiming-variance",
                    r"\sum_{k=1}^{L-1} \frac{1}{3^{k} n_{L-k}} + \frac{1}{3 n_{0}} + \frac{1}{3^{2}}",
                    "Problem 2, seed line 150 with exponents read literally"),
    # The Gaussian KL with the middle term of the ninth row, and with the one the sixth row leads to.
    SubmittedAnswer("kl-gaussian",
                    r"\frac{1}{2} \left[\log \left(\frac{\det \Sigma_{0}}{\det \Sigma_{1}}\right) "
                    r"- tr(\Sigma_{0}^{-1}) + tr(\Sigma_{1}^{-1}\Sigma_{0})\right]",
                    "Problem 6, seed line 229, ninth row"),
    SubmittedAnswer("kl-gaussian",
                    r"\frac{1}{2} \left[\log \left(\frac{\det \Sigma_{0}}{\det \Sigma_{1}}\right) "
                    r"- tr(\Sigma_{0}^{-1}\Sigma_{0}) + tr(\Sigma_{1}^{-1}\Sigma_{0})\right]",
                    "Problem 6, seed line 229, sixth row's trace carried through"),
)
