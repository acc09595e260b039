r"""The parallel running time of an RNN: the depth of its computation graph grows linearly in T.

# Main statements

With $h_0 = c(x_0, 0)$ and $h_t = c(x_t, h_{t-1})$ for $1 \le t \le T$, and $c$ = `torch.nn.RNNCell`
($c(x, h) = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})$):

* `rnn-depth`: the longest chain of operations in the autograd graph of $h_T$ has
  $D(T) = 3T + 4$ nodes. This length is the parallel running time: with unboundedly many processors,
  each node still has to wait for its inputs, so the forward and the backward pass need $D(T)$
  sequential rounds.
* `attention-depth`: by contrast, one self-attention layer over the same $T$ positions,
  $\mathrm{softmax}(QK^\top/\sqrt{s})V$, has a graph whose depth does not depend on $T$.

# Notation

The depth of a node is 1 + the largest depth of the nodes it reads (`grad_fn.next_functions`);
parameters (`AccumulateGrad`) and constants have depth 0. Every backward node counts, including
views. The constants, read off the graph torch builds for `RNNCell`:
$a = 3$ nodes per step, `TanhBackward` (tanh), `AddBackward` (sum of the two affine maps),
`AddmmBackward` ($W_{hh}h_{t-1} + b_{hh}$, the only operation that reads $h_{t-1}$);
$c = 4$ for $h_0$, whose longest chain is Tanh → Add → Addmm → `TBackward` (the transposed weight
inside `linear`), ending at a parameter. Hence $D(0) = 4$ and $D(t) = D(t-1) + 3$.

# Implementation notes

* Symbolic: sympy solves the recurrence $D(t) = D(t-1) + 3$, $D(0) = 4$ to $3T + 4$. That the cell adds
  exactly 3 nodes is a fact about torch's graph, which the numeric check measures.
* Numeric: the graph is built for T = 1..8 in float64, float32 and float16 (the depth does not depend
  on the dtype), and measured twice: by a memoised recursion over `next_functions` and, as an
  independent reference, by Kahn's topological layering (longest path in a DAG).
* Mutants: a constant depth, a depth growing like $\log_2 T$, and one counting 2 nodes per step.

# References

* quiz1-2020 Problem 4 (RNN computation graph; its parallel running time is proportional to T).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass

import sympy as sp
import torch
from torch import nn

from checkers import Claim, Derivation, Mutant, Reference, Variable, facts, not_attempted
from checkers.kinds import Kind

INPUT, HIDDEN = 3, 5
PER_STEP, FIRST = 3, 4


@dataclass(frozen=True)
class Sequence(Kind):
    """Inputs x_0, ..., x_T in R^width: (B, T + 1, width), iid N(0, 1)."""

    length: str = "T"
    width: int = INPUT

    @property
    def description(self) -> str:
        return f"sequence x_0..x_{self.length} in R^{self.width}"

    def draw(self, batch, dims, gen):
        return torch.randn(batch, dims[self.length] + 1, self.width, generator=gen, dtype=torch.float64)


VARIABLES = (Variable("x", Sequence()),)
DIMS = {"T": (1, 8)}


def _is_leaf(node) -> bool:
    return node is None or type(node).__name__ == "AccumulateGrad"


def graph_depth(root) -> int:
    """Nodes on the longest chain from `root` down to the leaves (parameters and constants count 0)."""
    memo: dict = {}

    def depth(node) -> int:
        if _is_leaf(node):
            return 0
        if node not in memo:
            memo[node] = 1 + max((depth(child) for child, _ in node.next_functions), default=0)
        return memo[node]

    return depth(root)


def graph_depth_kahn(root) -> int:
    """The same length by Kahn's algorithm: topological layering of the DAG, longest path from the leaves."""
    children, parents, seen, queue = {}, {}, {root}, deque([root])
    while queue:
        node = queue.popleft()
        kids = [c for c, _ in node.next_functions if not _is_leaf(c)]
        children[node] = kids
        for child in kids:
            parents.setdefault(child, []).append(node)
            if child not in seen:
                seen.add(child)
                queue.append(child)
    pending = {node: len(kids) for node, kids in children.items()}
    level = {node: 1 for node, count in pending.items() if count == 0}
    ready = deque(level)
    while ready:
        node = ready.popleft()
        for parent in parents.get(node, ()):
            level[parent] = max(level.get(parent, 0), level[node] + 1)
            pending[parent] -= 1
            if pending[parent] == 0:
                ready.append(parent)
    return level[root]


def rnn_cell(sample) -> nn.RNNCell:
    """A torch.nn.RNNCell with weights drawn from the sample's generator, at the sample's dtype and device."""
    gen = sample.generator(offset=1)
    cell = nn.RNNCell(INPUT, HIDDEN).to(torch.float64)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) / math.sqrt(HIDDEN))
    return cell.to(device=sample.device, dtype=sample.dtype)


def unrolled(sample) -> torch.Tensor:
    """h_T of h_0 = c(x_0, 0), h_t = c(x_t, h_{t-1}), built step by step (the quiz's procedure)."""
    cell, x = rnn_cell(sample), sample["x"]
    with torch.enable_grad():
        h = cell(x[:, 0], torch.zeros(sample.size, HIDDEN, dtype=x.dtype, device=x.device))
        for t in range(1, x.shape[1]):
            h = cell(x[:, t], h)
    return h


def _per_instance(value: int, sample) -> torch.Tensor:
    return torch.full((sample.size,), float(value), dtype=sample.dtype, device=sample.device)


def rnn_depth(sample, formula=lambda T: PER_STEP * T + FIRST, measure=graph_depth):
    """(measured depth of h_T's graph, the formula), one copy per instance of the batch."""
    h = unrolled(sample)
    return _per_instance(measure(h.grad_fn), sample), _per_instance(formula(sample.dims["T"]), sample)


_T = sp.Symbol("T", integer=True, nonnegative=True)
_D = sp.Function("D")

rnn_depth_claim = Claim(
    id="rnn-depth",
    statement="the autograd graph of h_T for an unrolled nn.RNNCell has depth D(T) = 3T + 4: linear in T",
    variables=VARIABLES,
    dims=DIMS,
    numeric=rnn_depth,
    symbolic=facts(
        ("D(t) = D(t−1) + 3 with D(0) = 4 solves to D(T) = 3T + 4 (sympy rsolve)",
         lambda: sp.rsolve(_D(_T) - _D(_T - 1) - PER_STEP, _D(_T), {_D(0): FIRST}) - (PER_STEP * _T + FIRST)),
        scope="the recurrence; the 3 nodes per step are measured",
    ),
    references=(Reference("kahn-layering", "longest path by Kahn's topological layering of the same graph",
                          lambda s: rnn_depth(s, measure=graph_depth_kahn)[0], side="lhs"),),
    mutants=(
        Mutant("constant", "D(T) = 7 (what a parallel architecture would give)", numeric=lambda s: rnn_depth(
            s, formula=lambda T: PER_STEP + FIRST)),
        Mutant("logarithmic", "D(T) = 3 log₂ T + 7 (a tree reduction over time)", numeric=lambda s: rnn_depth(
            s, formula=lambda T: PER_STEP * math.log2(T) + PER_STEP + FIRST)),
        Mutant("two-per-step", "D(T) = 2T + 4: forgets the addition inside the cell", numeric=lambda s: rnn_depth(
            s, formula=lambda T: 2 * T + FIRST)),
    ),
    instances=16,
)


def attention(sample) -> torch.Tensor:
    """softmax(QKᵀ/√s)V over the T + 1 positions of a linear embedding of the sequence."""
    gen = sample.generator(offset=2)
    weights = [torch.randn(shape, generator=gen, dtype=torch.float64).to(sample["x"]).requires_grad_(True)
               for shape in ((INPUT, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, HIDDEN))]
    embed, wq, wk, wv = weights
    with torch.enable_grad():
        z = sample["x"] @ embed
        q, k, v = z @ wq, z @ wk, z @ wv
        return torch.softmax(q @ k.transpose(1, 2) / HIDDEN ** 0.5, dim=-1) @ v


def attention_depth(sample, growth: float = 0.0):
    """(depth of the attention graph at this T, the depth at T = 1 (+ growth · (T − 1)))."""
    at_t = graph_depth(attention(sample).grad_fn)
    shortest = dataclasses.replace(sample, values={"x": sample["x"][:, :2]}, dims={"T": 1})
    first = graph_depth(attention(shortest).grad_fn)
    return _per_instance(at_t, sample), _per_instance(first + growth * (sample.dims["T"] - 1), sample)


attention_depth_claim = Claim(
    id="attention-depth",
    statement="one self-attention layer over the same T + 1 positions has a graph depth independent of T",
    variables=VARIABLES,
    dims=DIMS,
    numeric=attention_depth,
    symbolic=not_attempted("a statement about torch's graph: every operation (projections, QKᵀ, softmax, ·V) "
                           "acts on all positions at once, so no chain grows with T; measured for T = 1..8"),
    references=(Reference("kahn-layering", "longest path by Kahn's topological layering",
                          lambda s: _per_instance(graph_depth_kahn(attention(s).grad_fn), s), side="lhs"),),
    mutants=(Mutant("linear-like-rnn", "depth growing by 3 per position, as for the RNN",
                    numeric=lambda s: attention_depth(s, growth=PER_STEP)),),
    instances=16,
)

DERIVATIONS = (
    Derivation(
        id="rnn-parallel-time",
        title="RNN computation graphs are serial: depth linear in T",
        source="quiz1-2020 P4",
        statement=r"With $h_0 = c(x_0, 0)$ and $h_t = c(x_t, h_{t-1})$ for $1 \le t \le T$, (a) build the "
                  r"computation graph of $h_1, \dots, h_T$ from a cell procedure; (b) how does the parallel "
                  r"running time of an RNN computation graph scale with $T$?",
        claims=(rnn_depth_claim, attention_depth_claim),
    ),
)
