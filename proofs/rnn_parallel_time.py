r"""The parallel running time of an RNN: the depth of its computation graph grows linearly in T.

# Main statements

With $h_0 = c(x_0, 0)$ and $h_t = c(x_t, h_{t-1})$ for $1 \le t \le T$, and $c$ = `torch.nn.RNNCell`
($c(x, h) = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})$):

* `rnn-procedure` (part a): the procedure $H[0] = \mathrm{CELL}(\Phi, X[0], \mathrm{ZERO})$,
  $H[t] = \mathrm{CELL}(\Phi, X[t], H[t-1])$ for $t = 1, \dots, T$ (`rnn_graph`) builds $h_0, \dots, h_T$:
  with `torch.nn.RNNCell` as CELL its values equal those of `torch.nn.RNN`. (The quiz's own solution loops
  over `range(1, T)` and so stops at $h_{T-1}$; that loop is the mutant.)
* `rnn-depth` (part b): the longest chain of operations in the autograd graph of $h_T$ has
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

from checkers import (Answer, Claim, Derivation, Kind, Misconception, Mutant, Part, Problem, Reference, Symbol,
                      Tolerance, Variable, facts, not_attempted)

INPUT, HIDDEN = 3, 5
PER_STEP, FIRST = 3, 4


@dataclass(frozen=True)
class Sequence(Kind):
    """Inputs x_0, ..., x_T in R^width: (B, T + 1, width), iid N(0, 1)."""

    length: str = "T"
    width: int = INPUT

    @property
    def description(self) -> str:
        return f"{self.length} + 1 inputs, each a vector of {self.width} numbers"

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


def rnn_graph(cell, phi, xs, zero):
    """The graph of h_0, ..., h_T from xs = [x_0, ..., x_T]: H[0] = CELL(Φ, X[0], ZERO), then H[t] = CELL(Φ, X[t], H[t−1])."""
    hs = [cell(phi, xs[0], zero)]
    for t in range(1, len(xs)):  # t = 1, ..., T
        hs.append(cell(phi, xs[t], hs[t - 1]))
    return hs


def cell_procedure(phi: nn.RNNCell, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """CELL(Φ, X, H): one step c(x, h) of the RNN cell whose parameters are Φ."""
    return phi(x, h)


def hidden_states(sample, last=None) -> list[torch.Tensor]:
    """h_0, ..., h_T (batched over instances) from `rnn_graph` with a torch.nn.RNNCell as CELL.

    `last` < T builds the wrong variant a mutant checks: the quiz's loop over range(1, T) stops at h_last.
    """
    x = sample["x"]
    zero = torch.zeros(sample.size, HIDDEN, dtype=x.dtype, device=x.device)
    xs = list(x.unbind(1))[: None if last is None else last + 1]
    with torch.enable_grad():
        return rnn_graph(cell_procedure, rnn_cell(sample), xs, zero)


def unrolled(sample) -> torch.Tensor:
    """h_T of h_0 = c(x_0, 0), h_t = c(x_t, h_{t-1}), built by the quiz's procedure `rnn_graph`."""
    return hidden_states(sample)[-1]


def _per_instance(value: int, sample) -> torch.Tensor:
    return torch.full((sample.size,), float(value), dtype=sample.dtype, device=sample.device)


_T = sp.Symbol("T", integer=True, nonnegative=True)
_D = sp.Function("D")
DEPTH = PER_STEP * _T + FIRST  # D(T), the longest chain of the graph of h_T


def rnn_depth(sample, formula=lambda T: int(DEPTH.subs(_T, T)), measure=graph_depth):
    """(measured depth of h_T's graph, the formula), one copy per instance of the batch."""
    h = unrolled(sample)
    return _per_instance(measure(h.grad_fn), sample), _per_instance(formula(sample.dims["T"]), sample)


def torch_rnn_states(sample) -> torch.Tensor:
    """h_0, ..., h_T from torch.nn.RNN (one tanh layer, h_{-1} = 0) with the cell's weights: (B, T + 1, hidden)."""
    cell = rnn_cell(sample)
    rnn = nn.RNN(INPUT, HIDDEN, batch_first=True).to(device=sample.device, dtype=sample.dtype)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(rnn, f"{name}_l0").copy_(getattr(cell, name))
        return rnn(sample["x"])[0]


def procedure_sides(sample, last=None):
    """(h_t from the quiz's procedure, h_t from torch.nn.RNN) for t = 0..T; `last` builds the early-stopping variant."""
    states = hidden_states(sample, last=last)
    states += [states[-1]] * (sample.dims["T"] + 1 - len(states))  # a procedure that stops early repeats its last h
    return torch.stack(states, 1).detach(), torch_rnn_states(sample)


rnn_procedure_claim = Claim(
    id="rnn-procedure",
    statement=r"the procedure $H[0] = \mathrm{CELL}(\Phi, X[0], \mathrm{ZERO})$, "
              r"$H[t] = \mathrm{CELL}(\Phi, X[t], H[t-1])$ for $t = 1, \dots, T$ builds $h_0, \dots, h_T$: "
              r"with an RNN cell as CELL its values are those of torch.nn.RNN",
    variables=VARIABLES,
    dims=DIMS,
    numeric=procedure_sides,
    symbolic=not_attempted("a statement about a program; the recursion is the definition of h_t"),
    mutants=(
        Mutant("stops-at-t-minus-1", "the loop runs for t in range(1, T) and never builds h_T",
               numeric=lambda s: procedure_sides(s, last=s.dims["T"] - 1)),
    ),
    dtypes=(torch.float64, torch.float32),
    tolerances={torch.float32: Tolerance(
        rtol=1.3e-6, atol=1e-4,
        reason="h_T passes through T + 1 ≤ 9 tanh layers computed by two implementations (the cell loop and "
               "torch.nn.RNN, a fused kernel on CUDA): float32 rounding compounds per layer; 1.7e-5 measured on CUDA")},
    instances=64,
)

rnn_depth_claim = Claim(
    id="rnn-depth",
    statement=r"the autograd graph of $h_T$ for an unrolled torch.nn.RNNCell has depth $D(T) = 3T + 4$: "
              r"linear in $T$",
    variables=VARIABLES,
    dims=DIMS,
    numeric=rnn_depth,
    symbolic=facts(
        ("D(t) = D(t−1) + 3 with D(0) = 4 solves to D(T) = 3T + 4 (sympy rsolve)",
         lambda: sp.rsolve(_D(_T) - _D(_T - 1) - PER_STEP, _D(_T), {_D(0): FIRST}) - DEPTH),
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


# Gradeable: the parallel depth in RNN-cell applications. The witness converts the measured graph depth
# (nodes) to cells: the first cell has FIRST nodes on the chain, every later one PER_STEP.
_CELLS = _T + 1


def _measured_cells(sample) -> torch.Tensor:
    measured, _ = rnn_depth(sample)
    return ((measured.to(torch.float64) - FIRST) / PER_STEP + 1).reshape(sample.size)


GRADEABLE = (
    Problem(
        id="rnn-depth", title="Parallel running time of an RNN over T + 1 inputs", source="quiz1-2020 P4",
        claim=rnn_depth_claim,
        statement=r"With $h_0 = c(x_0, 0)$ and $h_t = c(x_t, h_{t-1})$ for $1 \le t \le T$, how many applications "
                  r"of the cell $c$ lie on the longest chain of the computation of $h_T$ (the number of sequential "
                  r"rounds with unboundedly many processors)?",
        symbols=(Symbol(_T, "T"),), answer=_CELLS, witness=_measured_cells,
        misconceptions=(
            Misconception("constant", "each h_t needs h_{t−1}, so the cells cannot run in parallel: the chain grows "
                          "with T", sp.Integer(1)),
            Misconception("logarithmic", "a tree reduction would give log T, but h_t = c(x_t, h_{t−1}) is a chain: "
                          "every step waits for the previous one", sp.log(_T + 1, 2)),
            Misconception("forgot-h0", "h_0 = c(x_0, 0) is a cell application too: the chain has T + 1 of them "
                          "(still linear in T)", _T),
        ),
    ),
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
    statement=r"one self-attention layer over the same $T + 1$ positions has a graph depth independent of $T$",
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
        statement=r"A cell $c\colon \mathbb{R}^d \times \mathbb{R}^s \to \mathbb{R}^s$ turns vectors $x_0, "
                  r"\dots, x_T \in \mathbb{R}^d$ into $h_0 = c(x_0, 0)$ and $h_t = c(x_t, h_{t-1})$ for $1 \le t "
                  r"\le T$; when $c$ is a neural network this is a recurrent neural network (RNN). In the EDF "
                  r"framework every object has a value and a gradient, assigned in the forward and the backward "
                  r"pass.",
        claims=(rnn_procedure_claim, rnn_depth_claim, attention_depth_claim),
        parts=(
            Part(
                label="(a)",
                question=r"Given an EDF procedure $\mathrm{CELL}(\Phi, X, H)$, a sequence $X[\,]$ of EDF objects "
                         r"holding $x_0, \dots, x_T$ and an object ZERO holding the zero vector of $\mathbb{R}^s$, "
                         r"write a procedure constructing the EDF objects representing $h_1, \dots, h_T$.",
                answer=Answer(
                    algorithm=(
                        r"$H[0] \leftarrow \mathrm{CELL}(\Phi, X[0], \mathrm{ZERO})$, the object of "
                        r"$h_0 = c(x_0, 0)$.",
                        r"For $t = 1, 2, \dots, T$: $H[t] \leftarrow \mathrm{CELL}(\Phi, X[t], H[t-1])$, the "
                        r"object of $h_t = c(x_t, h_{t-1})$; every call shares the one parameter object $\Phi$.",
                        r"Return $H[1], \dots, H[T]$ (and $H[0]$). The forward pass then evaluates the objects "
                        r"in this order; the backward pass visits them in reverse and accumulates the gradient "
                        r"of $\Phi$ from every step.",
                    ),
                    code=rnn_graph,
                    text=r"The loop must run to $t = T$ inclusive: \texttt{range(1, T)} would stop at "
                         r"$h_{T-1}$.",
                    scope=r"executed with torch.nn.RNNCell as CELL for $T = 1, \dots, 8$ and compared with "
                          r"torch.nn.RNN",
                ),
                claims=("rnn-procedure",),
            ),
            Part(
                label="(b)",
                question=r"How does the parallel running time of an RNN computation graph scale with the "
                         r"length $T$?",
                answer=Answer(
                    text=r"\textbf{Linearly in $T$.} $h_t$ needs $h_{t-1}$, so even with unboundedly many "
                         r"processors the $T + 1$ cell applications $h_0, h_1, \dots, h_T$ run one after another: "
                         r"the parallel running time is $T + 1$ times the time of one cell. (For a tanh RNN cell "
                         r"the longest chain of the graph is $D(T) = 3T + 4$ operations.) A self-attention layer, "
                         r"by contrast, has a depth that does not grow with $T$.",
                    scope=r"the depth of torch's autograd graph measured for $T = 1, \dots, 8$; the "
                          r"recurrence $D(T) = D(T-1) + 3$ solved by sympy for every $T$",
                ),
                claims=("rnn-depth", "attention-depth"),
            ),
        ),
    ),
)
