r"""Mutual information as a KL divergence and the ELBO decomposition, on discrete distributions.

# Main statements

* `mi-entropy-y`: $I(x, y) = KL(P(x,y) \,\|\, P(x)P(y)) = H(y) - H(y|x)$.
* `mi-entropy-x`: $I(x, y) = H(x) - H(x|y)$.
* `mi-nonnegative`: $I(x, y) \ge 0$.
* `elbo-entropies` (quiz P2a): $\mathrm{ELBO} = \ln Q(y) - H(\tilde Q(z|y), Q(z|y)) + H(\tilde Q(z|y))$.
* `elbo-kl` (quiz P2b): $\mathrm{ELBO} = \ln Q(y) - KL(\tilde Q(z|y) \,\|\, Q(z|y))$.
* `elbo-lower-bound`: $\mathrm{ELBO} \le \ln Q(y)$.

# Notation

A joint table $P(x, y)$ with $n_x$ rows and $n_y$ columns has entries $P_{i,j} = P(x_i, y_j)$ (indices from 0);
$P(x_i) = \sum_k P_{i,k}$, $P(y_j) = \sum_k P_{k,j}$,
$H(y|x) = \mathbb{E}_{x}\mathbb{E}_{y|x}[-\ln P(y|x)] = -\sum_{i,j} P(x_i,y_j)\ln\frac{P(x_i,y_j)}{P(x_i)}$.
For the ELBO, $q_z = Q(z, y)$ for the observed $y$ (one column of a joint table over $n_z \times n_y$
values, so $\sum_z q_z = Q(y) < 1$), $Q(z|y) = q_z/Q(y)$, and $\tilde q$ is the variational
distribution $\tilde Q(z|y)$; $\mathrm{ELBO} = \sum_z \tilde q_z \ln(q_z/\tilde q_z)$.

# Implementation notes

* The identities are proved by sympy with symbolic positive table entries for the table sizes
  $(n_x, n_y) \in \{(2,2), (2,3)\}$ and $n_z \in \{2, 3\}$ (sums expanded, logarithms of
  positive products split). The mutual-information identities hold for any positive table, normalised
  or not; the ELBO identities need $\sum_z \tilde q_z = 1$, which the proof builds in by writing
  $\tilde q_z = w_z / \sum_k w_k$ with free positive $w$ (every positive probability vector has this form).
* `mi-nonnegative` and `elbo-lower-bound` are inequalities: sympy proves Gibbs' inequality
  $\ln t \le t - 1$ (critical point at 1, positive second derivative) and that the comparison
  distribution sums to one; the numeric check runs on random tables. `elbo-lower-bound` is then
  proved for $n_z \in \{2, 3\}$ from its own sides: $\ln Q(y) - \mathrm{ELBO} = \sum_z \tilde q_z
  \varphi(Q(z|y)/\tilde q_z)$ with $\varphi(t) = t - 1 - \ln t \ge 0$ (`nonnegative_termwise`).
  `mi-nonnegative` stays "supported by lemmas": the same derivation on a normalised symbolic table
  takes sympy about 10 s, too slow for the verification budget.
* Numeric: random tables with 2..4 rows and columns, $n_z$ = 2..6, in float64 (exact up to rounding),
  float32 and float16 with the first-order rounding bound of each formula; references are `torch.distributions`
  (`kl_divergence` and `entropy` of `Categorical`).

# References

* quiz1-2020 Problem 1 (mutual information: derivation `mutual-information`) and Problem 2 (ELBO
  decomposition: derivation `elbo-decomposition`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch
from torch.distributions import Categorical, kl_divergence

from checkers import (Answer, Claim, Derivation, ForSizes, Kind, Lemma, Misconception, Mutant, Part, ProbabilityVector,
                      Problem, Reference, Step, Symbol, Variable, facts, nonnegative_by_convexity, nonnegative_termwise)

nx, ny, nz = sp.symbols("n_x n_y n_z", integer=True, positive=True)
i, j, k = sp.symbols("i j k", integer=True, nonnegative=True)
P = sp.IndexedBase("P", positive=True)
q = sp.IndexedBase("q", positive=True)
qt = sp.IndexedBase("qtilde", positive=True)  # prints as \tilde{q}


@dataclass(frozen=True)
class JointTable(Kind):
    """A strictly positive joint distribution on rows x cols values: (B, rows, cols).

    Softmax of N(0, spread^2) logits. With `independent_every = m > 0`, every m-th instance is a product
    P(x)P(y) of two such vectors (independent x and y, mutual information 0): the boundary case of I >= 0.
    """

    rows: str = "n_x"
    cols: str = "n_y"
    spread: float = 1.5
    independent_every: int = 0

    @property
    def description(self) -> str:
        extra = f"; every {self.independent_every}th independent" if self.independent_every else ""
        return f"positive joint table of {self.rows} x {self.cols} values{extra}"

    def draw(self, batch, dims, gen):
        r, c = dims[self.rows], dims[self.cols]
        logits = self.spread * torch.randn(batch, r * c, generator=gen, dtype=torch.float64)
        table = torch.softmax(logits, dim=-1).reshape(batch, r, c)
        px = torch.softmax(self.spread * torch.randn(batch, r, 1, generator=gen, dtype=torch.float64), dim=1)
        py = torch.softmax(self.spread * torch.randn(batch, 1, c, generator=gen, dtype=torch.float64), dim=2)
        if not self.independent_every:
            return table
        independent = (torch.arange(batch) % self.independent_every == self.independent_every - 1).reshape(-1, 1, 1)
        return torch.where(independent, px * py, table)


@dataclass(frozen=True)
class JointColumn(Kind):
    """Q(z, y) for one observed y: a column of a random positive joint table over dim x cols values."""

    dim: str = "n_z"
    cols: int = 3
    spread: float = 1.5

    @property
    def description(self) -> str:
        return f"Q(z, y) for z = 1..{self.dim} and a fixed y (a column of a {self.dim} x {self.cols} joint table)"

    def draw(self, batch, dims, gen):
        n = dims[self.dim]
        logits = self.spread * torch.randn(batch, n * self.cols, generator=gen, dtype=torch.float64)
        return torch.softmax(logits, dim=-1).reshape(batch, n, self.cols)[:, :, 0]


# --- sympy formulas on tables ---------------------------------------------------------------------------------------

def joint(a, b):
    return P[a, b]


def marginal_x(a):
    return sp.Sum(P[a, k], (k, 0, ny - 1))


def marginal_y(b):
    return sp.Sum(P[k, b], (k, 0, nx - 1))


def over_table(expr):
    return sp.Sum(expr, (j, 0, ny - 1), (i, 0, nx - 1))


MI = over_table(joint(i, j) * sp.log(joint(i, j) / (marginal_x(i) * marginal_y(j))))
H_X = -sp.Sum(marginal_x(i) * sp.log(marginal_x(i)), (i, 0, nx - 1))
H_Y = -sp.Sum(marginal_y(j) * sp.log(marginal_y(j)), (j, 0, ny - 1))
H_Y_GIVEN_X = -over_table(joint(i, j) * sp.log(joint(i, j) / marginal_x(i)))
H_X_GIVEN_Y = -over_table(joint(i, j) * sp.log(joint(i, j) / marginal_y(j)))

Q_Y = sp.Sum(q[k], (k, 0, nz - 1))
ELBO = sp.Sum(qt[k] * sp.log(q[k] / qt[k]), (k, 0, nz - 1))
KL_POSTERIOR = sp.Sum(qt[k] * sp.log(qt[k] / (q[k] / Q_Y)), (k, 0, nz - 1))
CROSS_ENTROPY = -sp.Sum(qt[k] * sp.log(q[k] / Q_Y), (k, 0, nz - 1))
ENTROPY_QT = -sp.Sum(qt[k] * sp.log(qt[k]), (k, 0, nz - 1))


TABLE_SIZES = ({nx: 2, ny: 2}, {nx: 2, ny: 3})


def normalised_qt(size):
    """q̃_z = w_z / Σ_k w_k with free positive w: the general positive probability vector."""
    n = size[nz]
    w = sp.symbols(f"w0:{n}", positive=True)
    return {qt[a]: w[a] / sum(w) for a in range(n)}


for_tables = ForSizes(sizes=TABLE_SIZES)
for_posteriors = ForSizes(sizes=({nz: 2}, {nz: 3}), substitution=normalised_qt)

TABLE_VARIABLES = (Variable("P", JointTable()),)
WITH_INDEPENDENT = (Variable("P", JointTable(independent_every=4)),)
TABLE_DIMS = {"n_x": (2, 4), "n_y": (2, 4)}
ELBO_VARIABLES = (Variable("q", JointColumn()), Variable("qtilde", ProbabilityVector("n_z"), latex=r"\tilde q"))
ELBO_DIMS = {"n_z": (2, 6)}


# --- torch.distributions references ---------------------------------------------------------------------------------

def torch_mutual_information(sample) -> torch.Tensor:
    """KL(P(x,y) ‖ P(x)P(y)) by torch.distributions.kl_divergence of two Categoricals on the nx*ny cells."""
    table = sample["P"]
    product = table.sum(2, keepdim=True) * table.sum(1, keepdim=True)
    return kl_divergence(Categorical(probs=table.flatten(1)), Categorical(probs=product.flatten(1)))


def torch_entropy_difference(sample, given: str) -> torch.Tensor:
    """H(y) − H(y|x) (given='x') or H(x) − H(x|y) (given='y') from Categorical.entropy()."""
    table = sample["P"]
    if given == "y":
        table = table.transpose(1, 2)
    p_given = table.sum(2)  # marginal of the conditioning variable
    h_target = Categorical(probs=table.sum(1)).entropy()
    h_conditional = (p_given * Categorical(probs=table / p_given.unsqueeze(2)).entropy()).sum(1)
    return h_target - h_conditional


def torch_elbo_kl(sample) -> torch.Tensor:
    """ln Q(y) − KL(Q̃(z|y) ‖ Q(z|y)) with torch.distributions.kl_divergence."""
    qy = sample["q"].sum(1)
    kl = kl_divergence(Categorical(probs=sample["qtilde"]), Categorical(probs=sample["q"] / qy.unsqueeze(1)))
    return torch.log(qy) - kl


def torch_elbo_entropies(sample) -> torch.Tensor:
    """ln Q(y) − H(Q̃, Q(z|y)) + H(Q̃) with Categorical.entropy() and log_prob-weighted cross-entropy."""
    qy = sample["q"].sum(1)
    posterior = Categorical(probs=sample["q"] / qy.unsqueeze(1))
    support = torch.arange(sample.dims["n_z"], device=sample.device).expand(sample.size, -1)
    cross = -(sample["qtilde"] * posterior.log_prob(support.T).T).sum(1)
    return torch.log(qy) - cross + Categorical(probs=sample["qtilde"]).entropy()


# --- claims ----------------------------------------------------------------------------------------------------------

# KL(P ‖ P_x P_y) divides by products of marginals: a table with entries ~1e-3 (seed 10: marginals 2.9e-3 and
# 3.9e-3) makes P(x)P(y) ~1e-5, below float16's smallest normal number 6.1e-5, where rounding is no longer
# relative (and its reciprocal, 9e4, overflows), so no rounding bound holds; float16 is not checked for it.
NO_HALF = (torch.float64, torch.float32)

mi_entropy_y = Claim(
    id="mi-entropy-y",
    statement=r"$\mathrm{KL}(P(x,y), P(x)P(y)) = H(y) - H(y|x)$",
    lhs=MI,
    rhs=H_Y - H_Y_GIVEN_X,
    variables=TABLE_VARIABLES,
    dims=TABLE_DIMS,
    steps=(
        Step(over_table(joint(i, j) * (sp.log(joint(i, j) / marginal_x(i)) - sp.log(marginal_y(j)))),
             r"$P(x,y) = P(x)P(y|x)$ with $P(y|x) = P(x,y)/P(x)$: the factor $P(x)$ cancels, and "
             r"$\ln\frac{P(y|x)}{P(y)} = \ln P(y|x) - \ln P(y)$"),
        Step(-over_table(joint(i, j) * sp.log(marginal_y(j))) + over_table(joint(i, j) * sp.log(joint(i, j) / marginal_x(i))),
             r"the expectation is linear: $E[\ln P(y|x) - \ln P(y)] = E[-\ln P(y)] + E[\ln P(y|x)]$"),
        Step(H_Y - H_Y_GIVEN_X, r"$\sum_x P(x,y) = P(y)$ in the first term: "
                                r"$E_{(x,y)\sim P(x,y)}[-\ln P(y)] = H(y)$, and the second term is "
                                r"$E[\ln P(y|x)] = -H(y|x)$; so $I(x, y) = H(y) - H(y|x)$"),
    ),
    symbolic=for_tables,
    references=(Reference("torch-kl", "torch.distributions.kl_divergence(Categorical(P), Categorical(P_x P_y))",
                          torch_mutual_information, side="lhs"),
                Reference("torch-entropy", "Categorical(P_y).entropy() − Σ_x P(x) Categorical(P(·|x)).entropy()",
                          lambda s: torch_entropy_difference(s, "x"))),
    mutants=(
        Mutant("plus-conditional", "H(y) + H(y|x)", rhs=H_Y + H_Y_GIVEN_X),
        Mutant("mixed-entropies", "H(x) − H(y|x): the marginal of the wrong variable", rhs=H_X - H_Y_GIVEN_X),
    ),
    dtypes=NO_HALF,
    instances=400,
)

mi_entropy_x = Claim(
    id="mi-entropy-x",
    statement=r"$\mathrm{KL}(P(x,y), P(x)P(y)) = H(x) - H(x|y)$",
    lhs=MI,
    rhs=H_X - H_X_GIVEN_Y,
    variables=TABLE_VARIABLES,
    dims=TABLE_DIMS,
    steps=(
        Step(over_table(joint(i, j) * (sp.log(joint(i, j) / marginal_y(j)) - sp.log(marginal_x(i)))),
             r"$P(x,y) = P(y)P(x|y)$: the factor $P(y)$ cancels, and $\ln\frac{P(x|y)}{P(x)} = \ln P(x|y) - \ln P(x)$"),
        Step(H_X - H_X_GIVEN_Y, r"split the logarithm, and $\sum_y P(x,y) = P(x)$"),
    ),
    symbolic=for_tables,
    references=(Reference("torch-entropy", "Categorical(P_x).entropy() − Σ_y P(y) Categorical(P(·|y)).entropy()",
                          lambda s: torch_entropy_difference(s, "y")),),
    mutants=(
        Mutant("conditioned-wrong-way", "H(x) − H(y|x)", rhs=H_X - H_Y_GIVEN_X),
        Mutant("joint-entropy", "H(x) + H(y) − H(x|y)", rhs=H_X + H_Y - H_X_GIVEN_Y),
    ),
    dtypes=NO_HALF,
    instances=400,
)


# Gradeable: I(X; Y) from the joint table, as students write it with P_{ij} and 1-based sums (P is an
# n_x × n_y matrix here, drawn by the claim's own JointTable). Witness: the same sum in torch.
_PM = sp.MatrixSymbol("P", nx, ny)
_a, _b, _r, _s = sp.symbols("a b r s", integer=True, positive=True)


def _entry(row, col):
    return _PM[row - 1, col - 1]


def _table_sum(body):
    return sp.Sum(body, (_a, 1, nx), (_b, 1, ny))


_ROW = sp.Sum(_entry(_a, _s), (_s, 1, ny))  # P(X = a)
# The marginals as students name them, p_i = P(X = i) and q_j = P(Y = j): columns defined from the table.
_PX, _QY = sp.MatrixSymbol("p", nx, 1), sp.MatrixSymbol("q", ny, 1)
_MARGINALS = {_PX: _PM * sp.OneMatrix(ny, 1), _QY: _PM.T * sp.OneMatrix(nx, 1)}
_COL = sp.Sum(_entry(_r, _b), (_r, 1, nx))  # P(Y = b)
_MI_ANSWER = _table_sum(_entry(_a, _b) * sp.log(_entry(_a, _b) / (_ROW * _COL)))


def _torch_mutual_information(sample) -> torch.Tensor:
    table = sample["P"]
    product = table.sum(dim=2, keepdim=True) * table.sum(dim=1, keepdim=True)
    return (table * torch.log(table / product)).sum(dim=(1, 2))


GRADEABLE = (
    Problem(
        id="mutual-information", title="Mutual information from a joint table", source="quiz1-2020 P1",
        claim=mi_entropy_x,
        statement=r"Give $I(X; Y) = \mathrm{KL}(P(x, y) \,\|\, P(x)P(y))$ for the joint table $P_{ij} = P(X = i, Y = j)$, "
                  r"$1 \le i \le n_x$, $1 \le j \le n_y$.",
        symbols=(Symbol(_PM, "P", ("P_{ij}",)), Symbol(_PX, "p"), Symbol(_QY, "q"),
                 Symbol(nx, "n_x", ("nx",)), Symbol(ny, "n_y", ("ny",))),
        answer=_MI_ANSWER, witness=_torch_mutual_information, definitions=_MARGINALS,
        misconceptions=(
            Misconception("no-marginals", "Σ P_ij log P_ij is minus the joint entropy; I(X; Y) divides by the "
                          "product of the marginals P(X = i)P(Y = j)", _table_sum(_entry(_a, _b) * sp.log(_entry(_a, _b)))),
            Misconception("ratio-inverted", "the ratio is upside down: KL(P ‖ Q) = Σ P log(P / Q), which makes "
                          "I(X; Y) ≥ 0", -_MI_ANSWER),
            Misconception("sum-of-marginal-entropies", "that is H(X) + H(Y); I(X; Y) = H(X) + H(Y) − H(X, Y)",
                          _MI_ANSWER - _table_sum(_entry(_a, _b) * sp.log(_entry(_a, _b)))),
        ),
    ),
)


_t = sp.Symbol("t", positive=True)
_g = _t - 1 - sp.log(_t)
GIBBS = (
    ("Gibbs: g(t) = t − 1 − ln t has g(1) = 0", lambda: _g.subs(_t, 1)),
    ("g'(1) = 0", lambda: sp.diff(_g, _t).subs(_t, 1)),
    ("g''(t) = 1/t² > 0, so g >= 0, i.e. ln t <= t − 1, and KL(P‖R) = −Σ P ln(R/P) >= −Σ (R − P) = 0 "
     "when R sums to 1", lambda: sp.diff(_g, _t, 2) > 0),
)


LN_LE_LINEAR = Lemma("ln t ≤ t − 1", sp.log(_t), _t - 1, facts(*GIBBS, derive=nonnegative_by_convexity(_t, 1)), "<=")


def _product_of_marginals_sums_to_one():
    p = sp.symbols("p0:4", positive=True)
    cells = [a / sum(p) for a in p]  # a normalised positive 2 x 2 table
    rows, cols = (cells[0] + cells[1], cells[2] + cells[3]), (cells[0] + cells[2], cells[1] + cells[3])
    return sp.simplify(sum(r * c for r in rows for c in cols)) - 1


mi_nonnegative = Claim(
    id="mi-nonnegative",
    statement=r"$I(x, y) = \mathrm{KL}(P(x,y), P(x)P(y)) \ge 0$: KL divergence is non-negative",
    lhs=MI,
    rhs=sp.Integer(0),
    relation=">=",
    variables=WITH_INDEPENDENT,
    dims=TABLE_DIMS,
    symbolic=facts(*GIBBS, ("R = P(x)P(y) sums to 1 (symbolic normalised 2x2 table)",
                            _product_of_marginals_sums_to_one),
                   scope="general (Gibbs' inequality); normalisation of P(x)P(y) checked on a symbolic 2x2 table"),
    references=(Reference("torch-kl", "torch.distributions.kl_divergence(Categorical(P), Categorical(P_x P_y))",
                          torch_mutual_information, side="lhs"),),
    mutants=(
        Mutant("at-least-entropy", "I(x, y) >= H(y) (true only when y is a function of x)",
               numeric=lambda s: (s.evaluate(MI), s.evaluate(H_Y))),
        Mutant("reversed-kl-negative", "−KL(P(x)P(y) ‖ P(x,y)) >= 0",
               numeric=lambda s: (-kl_divergence(Categorical(probs=(s["P"].sum(2, keepdim=True)
                                                                      * s["P"].sum(1, keepdim=True)).flatten(1)),
                                                  Categorical(probs=s["P"].flatten(1))),
                                  torch.zeros(s.size, dtype=s.dtype, device=s.device))),
    ),
    instances=400,
)

elbo_entropies = Claim(
    id="elbo-entropies",
    statement=r"$\mathrm{ELBO} = E_{z\sim\tilde Q(z|y)} \ln\frac{Q(y)Q(z|y)}{\tilde Q(z|y)} = \ln Q(y) "
              r"- H(\tilde Q(z|y), Q(z|y)) + H(\tilde Q(z|y))$",
    lhs=ELBO,
    rhs=sp.log(Q_Y) - CROSS_ENTROPY + ENTROPY_QT,
    variables=ELBO_VARIABLES,
    dims=ELBO_DIMS,
    steps=(
        Step(sp.Sum(qt[k] * sp.log(sp.Mul(Q_Y, q[k] / Q_Y, 1 / qt[k], evaluate=False)), (k, 0, nz - 1)),
             r"$Q(z, y) = Q(y)\,Q(z|y)$"),
        Step(sp.Sum(qt[k] * sp.log(Q_Y), (k, 0, nz - 1)) + sp.Sum(qt[k] * sp.log(q[k] / Q_Y), (k, 0, nz - 1))
             + sp.Sum(qt[k] * sp.log(1 / qt[k]), (k, 0, nz - 1)),
             "the logarithm of a product of three terms is the sum of the three logarithms"),
        Step(sp.log(Q_Y) - CROSS_ENTROPY + ENTROPY_QT, r"$\sum_z \tilde Q(z|y) = 1$ in the first term; the second "
                                                       r"is minus the cross entropy, the third the entropy"),
    ),
    symbolic=for_posteriors,
    references=(Reference("torch-categorical", "ln Q(y) − (−Σ Q̃ · Categorical(Q(z|y)).log_prob) + "
                                               "Categorical(Q̃).entropy()", torch_elbo_entropies),),
    mutants=(
        Mutant("entropy-sign", "ln Q(y) − H(Q̃, Q(z|y)) − H(Q̃)", rhs=sp.log(Q_Y) - CROSS_ENTROPY - ENTROPY_QT),
        Mutant("joint-cross-entropy", "cross entropy against Q(z, y) instead of Q(z|y), plus ln Q(y)",
               rhs=sp.log(Q_Y) + sp.Sum(qt[k] * sp.log(q[k]), (k, 0, nz - 1)) + ENTROPY_QT),
    ),
    instances=400,
)

elbo_kl = Claim(
    id="elbo-kl",
    statement=r"$\mathrm{ELBO} = \ln Q(y) - \mathrm{KL}(\tilde Q(z|y), Q(z|y))$",
    lhs=ELBO,
    rhs=sp.log(Q_Y) - KL_POSTERIOR,
    variables=ELBO_VARIABLES,
    dims=ELBO_DIMS,
    steps=(
        Step(sp.Sum(qt[k] * sp.log(Q_Y), (k, 0, nz - 1)) + sp.Sum(qt[k] * sp.log((q[k] / Q_Y) / qt[k]),
                                                                   (k, 0, nz - 1)),
             r"$\ln\frac{Q(y)Q(z|y)}{\tilde Q(z|y)} = \ln Q(y) + \ln\frac{Q(z|y)}{\tilde Q(z|y)}$"),
        Step(sp.log(Q_Y) - KL_POSTERIOR, r"$\sum_z \tilde Q(z|y) = 1$, and $E_{\tilde Q} \ln\frac{Q(z|y)}"
                                         r"{\tilde Q(z|y)} = -\mathrm{KL}(\tilde Q(z|y), Q(z|y))$"),
    ),
    symbolic=for_posteriors,
    references=(Reference("torch-kl", "ln Q(y) − torch.distributions.kl_divergence(Categorical(Q̃), "
                                      "Categorical(Q(z|y)))", torch_elbo_kl),),
    mutants=(
        Mutant("kl-reversed", "ln Q(y) − KL(Q(z|y) ‖ Q̃(z|y)): the arguments swapped",
               rhs=sp.log(Q_Y) - sp.Sum((q[k] / Q_Y) * sp.log((q[k] / Q_Y) / qt[k]), (k, 0, nz - 1))),
        Mutant("kl-to-joint", "ln Q(y) − KL(Q̃ ‖ Q(z, y)): the joint instead of the posterior",
               rhs=sp.log(Q_Y) - sp.Sum(qt[k] * sp.log(qt[k] / q[k]), (k, 0, nz - 1))),
    ),
    instances=400,
)

elbo_lower_bound = Claim(
    id="elbo-lower-bound",
    statement=r"$\mathrm{ELBO} \le \ln Q(y)$, with equality if and only if $\tilde Q(z|y) = Q(z|y)$",
    lhs=ELBO,
    rhs=sp.log(Q_Y),
    relation="<=",
    variables=ELBO_VARIABLES,
    dims=ELBO_DIMS,
    symbolic=facts(
        ("ELBO = ln Q(y) − KL(Q̃ ‖ Q(z|y)) (the elbo-kl identity, re-proved here for n_z ∈ {2, 3})",
         lambda: for_posteriors.check(ELBO, sp.log(Q_Y) - KL_POSTERIOR).status == "proved"),
        *GIBBS,
        derive=nonnegative_termwise(for_posteriors, LN_LE_LINEAR, _t, qt[k], (q[k] / Q_Y) / qt[k], ((k, 0, nz - 1),)),
        derivation="the claim's own gap ln Q(y) − ELBO is Σ Q̃·(t − 1 − ln t) at t = Q(z|y)/Q̃(z|y) (for n_z ∈ {2, 3}, "
                   "any positive Q and probability vector Q̃), a sum of terms ≥ 0 by ln t ≤ t − 1",
        scope="n_z ∈ {2, 3}",
    ),
    mutants=(
        Mutant("elbo-at-least-log-evidence", "ELBO >= ln Q(y): the inequality reversed",
               numeric=lambda s: (s.evaluate(sp.log(Q_Y)), s.evaluate(ELBO))),
        Mutant("bound-by-joint", "ELBO <= ln max_z Q(z, y): a bound by the largest joint entry",
               numeric=lambda s: (s.evaluate(ELBO), torch.log(s["q"].amax(1)))),
    ),
    instances=400,
)

MI_SCOPE = (r"proved by sympy with symbolic positive table entries for $(n_x, n_y) \in \{(2,2), (2,3)\}$; checked "
            r"numerically on random tables with 2 to 4 rows and columns; non-negativity from Gibbs' inequality "
            r"$\ln t \le t - 1$, proved in general")
ELBO_SCOPE = (r"proved by sympy for $n_z \in \{2, 3\}$ values of $z$ (any positive $Q$, any probability vector "
              r"$\tilde Q$); checked numerically for $n_z = 2, \dots, 6$")

DERIVATIONS = (
    Derivation(
        id="mutual-information",
        title="Mutual information as a KL divergence",
        source="quiz1-2020 P1",
        statement=r"$P(x,y)$ is a joint distribution of discrete random variables $x$ and $y$, with marginals "
                  r"$P(x) = \sum_y P(x,y)$ and $P(y) = \sum_x P(x,y)$, conditional entropies $H(y|x) = E_{x\sim "
                  r"P(x)} E_{y\sim P(y|x)} [-\ln P(y|x)]$ and $H(x|y) = E_{y\sim P(y)} E_{x\sim P(x|y)} [-\ln "
                  r"P(x|y)]$, and $Q(x,y) = P(x)P(y)$ is the product of the marginals. The quantity "
                  r"$\mathrm{KL}(P(x,y), Q(x,y))$ is the mutual information $I(x,y)$.",
        claims=(mi_entropy_y, mi_entropy_x, mi_nonnegative),
        parts=(
            Part(
                label="",
                question=r"Derive $\mathrm{KL}(P(x,y), Q(x,y)) = H(y) - H(y|x) = H(x) - H(x|y)$ for "
                         r"$Q(x,y) = P(x)P(y)$, and explain why $I(x,y)$ is always non-negative.",
                answer=Answer(
                    text=r"$I(x,y) = E_{(x,y)\sim P}\ln\frac{P(x,y)}{P(x)P(y)} "
                         r"= E_{(x,y)\sim P}\ln\frac{P(y|x)}{P(y)} = H(y) - H(y|x)$, and in the same way, writing "
                         r"$P(x,y) = P(y)P(x|y)$, $I(x,y) = H(x) - H(x|y)$. It is non-negative because it is a KL "
                         r"divergence, and $\mathrm{KL}(P, R) \ge 0$ for any distributions $P, R$ (Gibbs' "
                         r"inequality, from $\ln t \le t - 1$); it is 0 exactly when $x$ and $y$ are independent.",
                    scope=MI_SCOPE,
                ),
                claims=("mi-entropy-y", "mi-entropy-x", "mi-nonnegative"),
            ),
        ),
    ),
    Derivation(
        id="elbo-decomposition",
        title="The ELBO as entropies, and as a KL divergence",
        source="quiz1-2020 P2",
        statement=r"A model $Q_\Phi(z, y)$ has the marginal $Q_\Phi(y) = \sum_z Q_\Phi(z, y)$; a second model "
                  r"$\tilde Q_\Psi(z|y)$ gives the evidence lower bound $\ln Q_\Phi(y) \ge \mathrm{ELBO} = "
                  r"E_{z\sim\tilde Q_\Psi(z|y)} \ln\frac{Q_\Phi(z,y)}{\tilde Q_\Psi(z|y)} = E_{z\sim\tilde "
                  r"Q_\Psi(z|y)} \ln\frac{Q_\Phi(y)Q_\Phi(z|y)}{\tilde Q_\Psi(z|y)}$.",
        claims=(elbo_entropies, elbo_kl, elbo_lower_bound),
        parts=(
            Part(
                label="(a)",
                question=r"Separate the three terms of the ELBO and express the terms other than "
                         r"$\ln Q_\Phi(y)$ as entropies or cross entropies.",
                answer=Answer(
                    text=r"$\mathrm{ELBO} = \ln Q_\Phi(y) - H(\tilde Q_\Psi(z|y), Q_\Phi(z|y)) "
                         r"+ H(\tilde Q_\Psi(z|y))$: the expectation of $\ln Q_\Phi(y)$ is itself (it does not "
                         r"depend on $z$), the expectation of $\ln Q_\Phi(z|y)$ is minus the cross entropy, and "
                         r"the expectation of $\ln(1/\tilde Q_\Psi(z|y))$ is the entropy of $\tilde Q_\Psi$.",
                    scope=ELBO_SCOPE,
                ),
                claims=("elbo-entropies",),
            ),
            Part(
                label="(b)",
                question=r"Rewrite the ELBO as the term $\ln Q_\Phi(y)$ plus one combined term written as a KL "
                         r"divergence; explain why the ELBO is a lower bound on $\ln Q_\Phi(y)$.",
                answer=Answer(
                    text=r"$\mathrm{ELBO} = \ln Q_\Phi(y) - \mathrm{KL}(\tilde Q_\Psi(z|y), Q_\Phi(z|y))$. Since "
                         r"a KL divergence is non-negative, $\mathrm{ELBO} \le \ln Q_\Phi(y)$, with equality "
                         r"exactly when $\tilde Q_\Psi(z|y) = Q_\Phi(z|y)$.",
                    scope=ELBO_SCOPE,
                ),
                claims=("elbo-kl", "elbo-lower-bound"),
            ),
        ),
    ),
)
