"""Machinery moved out of kaiming-variance: the reader of torch's init source, its strategy, and the per-batch memo."""

import math

import pytest
import sympy as sp
import torch

from checkers.errors import ProofcheckError, TorchSourceChanged
from checkers.memo import per_batch
from checkers.model import Sample
from checkers.symbolic import SymbolicStatus
from checkers.torch_source import FromTorchSource, fan_in, read_default_init


def test_the_default_init_is_read_from_the_installed_source():
    found = read_default_init()
    assert found.a == sp.sqrt(5) and found.gain == sp.sqrt(3) / 3
    assert sp.simplify(found.weight_bound - 1 / sp.sqrt(fan_in)) == 0
    assert sp.simplify(found.bias_bound - 1 / sp.sqrt(fan_in)) == 0
    assert sp.simplify(found.variance(found.weight_bound) - 1 / (3 * fan_in)) == 0
    assert any("kaiming_uniform_" in line for line in found.evidence)


def test_the_strategy_reads_the_claims_side_in_the_claims_own_symbol():
    n = sp.Symbol("n_in", positive=True)
    proof = FromTorchSource(quantity="variance", fan_in=n)
    assert proof.prove(None, 1 / (3 * n), "≈").status == SymbolicStatus.PROVED
    wrong = proof.prove(None, 1 / n, "≈")
    assert wrong.status == SymbolicStatus.FAILED and "1/(3*n_in)" in wrong.detail


def _he_uniform_reset(self):
    """A different default: kaiming_uniform_ with a = 0 (bound sqrt(6 / fan_in)), bias as before."""
    torch.nn.init.kaiming_uniform_(self.weight, a=0)
    if self.bias is not None:
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(self.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        torch.nn.init.uniform_(self.bias, -bound, bound)


def _normal_reset(self):
    torch.nn.init.normal_(self.weight)


def test_a_changed_init_is_a_failed_proof_naming_the_change(monkeypatch):
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", _he_uniform_reset)
    result = FromTorchSource(quantity="bound").prove(None, 1 / sp.sqrt(fan_in), "<=")
    assert result.status == SymbolicStatus.FAILED and "sqrt(6)" in result.detail
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", _normal_reset)
    with pytest.raises(TorchSourceChanged, match="kaiming_uniform_"):
        read_default_init()
    assert issubclass(TorchSourceChanged, ProofcheckError)


def _sample(values, seed=0):
    return Sample(values={"x": torch.tensor(values, dtype=torch.float64)}, dims={}, seed=seed, size=len(values))


def test_the_memo_answers_the_same_batch_once_and_a_different_batch_anew():
    calls = []

    @per_batch
    def draws(sample):
        calls.append(sample.seed)
        return torch.randn(3, generator=sample.generator())

    first = draws(_sample([1.0, 2.0]))
    assert torch.equal(draws(_sample([1.0, 2.0])), first) and len(calls) == 1
    draws(_sample([1.0, 2.5]))  # one value differs
    draws(_sample([1.0, 2.0], seed=1))
    draws(_sample([1.0, 2.0]).to(torch.float32, "cpu"))  # per dtype by default
    assert len(calls) == 4


def test_the_memo_is_not_fooled_by_a_patched_dependency(monkeypatch):
    calls = []
    target = {"f": lambda: 1}

    @per_batch(per_dtype=False, depends=lambda: (target["f"],))
    def run(sample):
        calls.append(1)
        return target["f"]()

    s = _sample([1.0])
    assert run(s) == 1 and run(s.to(torch.float32, "cpu")) == 1 and len(calls) == 1
    target["f"] = lambda: 2
    assert run(s) == 2 and len(calls) == 2
