"""The verification engine end to end, on small synthetic claims: passes, failures, reports, mutants, replay."""

import dataclasses

import sympy as sp
import torch

from checkers import Claim, Derivation, Mutant, Positive, Real, Step, Tolerance, Variable, identity, not_attempted
from checkers.model import Estimate
from checkers.symbolic import Strategy, SymbolicResult, SymbolicStatus
from checkers.sampling import draw_configs
from checkers.verify import ClaimChecker, verify

t = sp.Symbol("t", positive=True)
u = sp.Symbol("u", real=True)
# log t + u cancels for t near e^{-u}: float16 needs the first-order rounding bound, not an override.
VARS = (Variable("t", Positive(0.1, 10.0)), Variable("u", Real(-2, 2)))


def derivation(*claims):
    return Derivation(id="toy", title="toy", source="none P0", claims=claims)


def claim(**kw):
    defaults = dict(id="c", statement="s", variables=VARS, symbolic=identity(),
                    mutants=(Mutant("plus-one", "off by one", rhs=sp.log(t) + u + 1),))
    defaults.update(kw)
    return Claim(**defaults)


def test_true_claim_passes_with_all_parts_recorded():
    c = claim(lhs=sp.log(t * sp.exp(u)), rhs=sp.log(t) + u,
              steps=(Step(sp.log(t) + sp.log(sp.exp(u)), "log of a product"), Step(sp.log(t) + u, "log exp u = u")))
    result = verify([derivation(c)], devices=["cpu"]).derivations[0].claims[0]
    assert result.passed, result.failures
    assert result.symbolic.status == "proved"
    assert [s.symbolic.status for s in result.steps] == ["proved", "proved"]
    by_dtype = {r.dtype: r for r in result.numeric}
    assert set(by_dtype) == {"float64", "float32", "float16"}
    assert all(r.instances >= 1000 for r in result.numeric)
    assert result.mutants[0].caught


def test_false_claim_fails_with_a_replayable_report():
    c = claim(lhs=sp.log(t) + u, rhs=sp.log(t) + u * 1.0001, symbolic=not_attempted("testing numerics"))
    result = ClaimChecker(derivation(c), c, seed=3).run(["cpu"])
    assert not result.passed
    failure = next(r.failure for r in result.numeric if r.dtype == "float64")
    assert failure.device == "cpu" and failure.seed == 3 and failure.rel_error > failure.rtol
    text = failure.render()
    for piece in ("toy / c", "cpu float64", "seed 3", "instance", "lhs =", "rhs =", "allowed atol",
                  "proofcheck verify toy/c --seed 3 --device cpu --dtype float64"):
        assert piece in text
    # Replaying the printed instance reproduces the reported numbers.
    inst = failure.instance
    assert abs(float(sp.log(inst["t"]) + inst["u"]) - failure.lhs) < 1e-12


def test_a_mutant_that_survives_fails_the_claim():
    c = claim(lhs=t + u, rhs=u + t, mutants=(Mutant("same", "not actually wrong", rhs=t + u),),
              symbolic=not_attempted("testing mutants"))
    result = ClaimChecker(derivation(c), c, seed=0).run(["cpu"])
    assert not result.mutants[0].caught and not result.passed
    assert any("mutant same" in f for f in result.failures)


def test_a_mutant_the_strategy_proves_and_no_instance_rejects_is_reported_as_equal_to_the_claim():
    c = claim(lhs=t + u, rhs=u + t, mutants=(Mutant("same", "not actually wrong", rhs=t + u),))
    result = ClaimChecker(derivation(c), c, seed=0).run(["cpu"])
    assert not result.mutants[0].caught
    assert result.mutants[0].evidence.startswith("this mutant equals the claim"), result.mutants[0].evidence


def test_a_wrong_mutant_the_symbolic_strategy_proves_is_reported_as_unsound():
    @dataclasses.dataclass(frozen=True)
    class ProvesAnything(Strategy):  # a strategy with an unsound rewrite
        def _attempt(self, lhs, rhs, relation):
            return SymbolicResult(SymbolicStatus.PROVED, "general", "a broken rewrite")

    c = claim(lhs=t + u, rhs=u + t, symbolic=ProvesAnything(), mutants=(Mutant("wrong", "t + 2u", rhs=t + 2 * u),))
    result = ClaimChecker(derivation(c), c, seed=0).run(["cpu"])
    assert not result.mutants[0].caught and "unsound rewrite" in result.mutants[0].evidence


def test_inequality_claims_and_their_violations():
    good = claim(lhs=sp.log(t), rhs=t - 1, relation="<=", symbolic=not_attempted("numeric only"),
                 mutants=(Mutant("too-tight", "log t <= t - 2", rhs=t - 2),))
    result = ClaimChecker(derivation(good), good, seed=0).run(["cpu"])
    assert result.passed, result.failures


def test_estimates_are_judged_in_standard_errors():
    def mc(sample, shift=0.0):
        gen = sample.generator()
        draws = torch.randn(sample.size, 4000, generator=gen, dtype=torch.float64).to(sample.dtype) + sample["u"][:, None]
        est = Estimate(draws.mean(1) + shift, draws.std(1) / 4000 ** 0.5)
        return est, sample["u"]

    c = claim(lhs=None, rhs=None, relation="≈", numeric=mc, symbolic=not_attempted("Monte Carlo"),
              mutants=(Mutant("biased", "shifted by 0.1", numeric=lambda s: mc(s, 0.1)),), dtypes=(torch.float64,),
              instances=200)
    result = ClaimChecker(derivation(c), c, seed=1).run(["cpu"])
    assert result.passed, result.failures
    assert result.mutants[0].caught


def test_configs_are_reproducible_and_start_at_the_smallest_dimension():
    c = claim(lhs=t, rhs=t, dims={"n": (1, 5)}, mutants=(Mutant("m", "m", rhs=2 * t),))
    first, again = draw_configs(c, seed=11), draw_configs(c, seed=11)
    assert first == again
    assert draw_configs(c, seed=0)[0].dims == {"n": 1}
    assert len({tuple(cfg.dims.items()) for cfg in draw_configs(c, seed=0)}) > 1


def test_tolerance_override_is_applied_and_reported():
    loose = Tolerance(1e-3, 1e-3, reason="demonstration")
    c = claim(lhs=t, rhs=t * 1.0001, tolerances={torch.float64: loose}, symbolic=not_attempted("x"),
              mutants=(Mutant("m", "m", rhs=2 * t),), dtypes=(torch.float64,))
    result = ClaimChecker(derivation(c), c, seed=0).run(["cpu"])
    assert result.passed and result.numeric[0].rtol == 1e-3


def test_low_precision_error_beyond_rounding_is_still_caught():
    # 1.001 * t is within float16's table rtol (1e-3) of t only barely; 1.01 * t is not explainable by rounding.
    c = claim(lhs=t * 1.01, rhs=t, symbolic=not_attempted("x"), mutants=(Mutant("m", "m", rhs=2 * t),),
              dtypes=(torch.float64, torch.float16))
    result = ClaimChecker(derivation(c), c, seed=0).run(["cpu"])
    assert not any(r.passed for r in result.numeric)
    half = next(r for r in result.numeric if r.dtype == "float16")
    assert "rounding bound" in half.failure.tolerance_reason


def test_each_component_of_an_estimate_is_judged_by_its_own_standard_error():
    """A noisy component (se 1) must not lend its allowance to a sharp one (se 1e-3) that is off by 0.1."""
    def vector(sample, offset=0.1):
        size = sample.size
        mean = torch.stack([sample["u"], sample["u"] + offset], -1)
        stderr = torch.stack([torch.ones(size, dtype=torch.float64), torch.full((size,), 1e-3, dtype=torch.float64)], -1)
        return Estimate(mean, stderr), torch.stack([sample["u"], sample["u"]], -1)

    c = claim(lhs=None, rhs=None, relation="≈", numeric=vector, symbolic=not_attempted("estimates"),
              mutants=(Mutant("m", "m", numeric=lambda s: vector(s, 10.0)),), dtypes=(torch.float64,), instances=40)
    result = ClaimChecker(derivation(c), c, seed=0).run(["cpu"])
    assert not result.numeric[0].passed  # 0.1 is 100 of its own standard errors (but only 0.1 of the largest)
    failure = result.numeric[0].failure
    assert abs(failure.abs_error - 0.1) < 1e-12
    ok = claim(lhs=None, rhs=None, relation="≈", numeric=lambda s: vector(s, 4e-3), symbolic=not_attempted("estimates"),
               mutants=(Mutant("m", "m", numeric=lambda s: vector(s, 10.0)),), dtypes=(torch.float64,), instances=40)
    assert ClaimChecker(derivation(ok), ok, seed=0).run(["cpu"]).numeric[0].passed  # 4 standard errors: within 5


def test_estimate_discrepancy_fails_nan_and_reports_zero_targets_absolutely():
    from checkers.tolerances import Tolerance
    from checkers.verify import estimate_discrepancy

    est = Estimate(torch.tensor([[0.01, 1.0], [float("nan"), 1.0]], dtype=torch.float64),
                   torch.tensor([[0.1, 0.1], [0.1, 0.1]], dtype=torch.float64))
    d = estimate_discrepancy(est, torch.tensor([[0.0, 1.0], [0.0, 1.0]], dtype=torch.float64), Tolerance(0, 0), 5.0, 2)
    assert d.excess[0] <= 0 and d.excess[1] > 0
    assert abs(float(d.rel_error[0]) - 0.01) < 1e-15  # target 0: its absolute error, not 0.01 / tiny


def test_verify_runs_with_the_declared_thread_count_and_restores_torch_s():
    from checkers.verify import DEFAULT_THREADS

    seen = []

    def numeric(sample):
        seen.append(torch.get_num_threads())
        return sample["u"], sample["u"]

    c = claim(lhs=None, rhs=None, numeric=numeric, symbolic=not_attempted("x"),
              mutants=(Mutant("m", "m", numeric=lambda s: (s["u"], s["u"] + 1)),), dtypes=(torch.float64,),
              instances=8)
    before = torch.get_num_threads()
    verify([derivation(c)], devices=["cpu"])
    assert set(seen) == {DEFAULT_THREADS} and torch.get_num_threads() == before
    seen.clear()
    verify([derivation(c)], devices=["cpu"], threads=None)
    assert set(seen) == {before}


def test_instances_below_a_claim_s_declaration_are_listed():
    from checkers.verify import instances_below_minimum

    small, large = claim(id="small", lhs=t, rhs=t, instances=40), claim(id="large", lhs=t, rhs=t, instances=400)
    d = derivation(small, large)
    assert instances_below_minimum([d], None) == []
    assert instances_below_minimum([d], 400) == []
    assert instances_below_minimum([d], 100) == [("toy/large", 400)]
    assert instances_below_minimum([d], 100, {"toy": {"small"}}) == []
    assert instances_below_minimum([d], 1) == [("toy/small", 40), ("toy/large", 400)]


def test_verify_runs_float32_as_ieee_float32_and_restores_the_tf32_switches():
    seen = []

    def numeric(sample):
        seen.append((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32,
                     torch.get_float32_matmul_precision()))
        return sample["u"], sample["u"]

    c = claim(lhs=None, rhs=None, numeric=numeric, symbolic=not_attempted("x"),
              mutants=(Mutant("m", "m", numeric=lambda s: (s["u"], s["u"] + 1)),), dtypes=(torch.float64,),
              instances=8)
    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision())
    torch.backends.cudnn.allow_tf32 = True
    try:
        verify([derivation(c)], devices=["cpu"])
        assert set(seen) == {(False, False, "highest")}
        assert torch.backends.cudnn.allow_tf32 is True
    finally:
        torch.backends.cudnn.allow_tf32 = before[0]


def test_results_record_monte_carlo_references_mutant_batches_and_failures_as_fields():
    import json

    from checkers import Reference
    from checkers.results import to_json

    def mc(sample):  # a Monte Carlo estimate of log t + u with 4000 draws, precise enough to be evidence
        draws = torch.randn(sample.size, 4000, generator=sample.generator(), dtype=torch.float64) * 0.01
        values = draws + (torch.log(sample["t"]) + sample["u"])[:, None]
        return Estimate(values.mean(1), values.std(1) / 4000 ** 0.5)

    c = claim(lhs=sp.log(t) + u, rhs=sp.log(t) + u * 1.0001, symbolic=not_attempted("testing records"),
              dtypes=(torch.float64,), references=(Reference("exact", "log t + u", lambda s: torch.log(s["t"]) + s["u"]),
                                                   Reference("sampled", "log t + u plus noise", mc)))
    result = ClaimChecker(derivation(c), c, seed=3).run(["cpu"])
    assert {r.id: r.monte_carlo for r in result.references} == {"exact": False, "sampled": True}
    mutant = result.mutants[0]
    assert mutant.caught and mutant.dims == {} and mutant.batch_seed is not None
    assert 0 < mutant.rejected <= mutant.instances and f"batch seed {mutant.batch_seed}" in mutant.evidence
    records = result.failure_records
    assert [r.what for r in records][:1] == ["cpu float64"] and records[0].detail.seed == 3
    assert records[0].headline == records[0].detail.lines()[0] and result.failures[0] == records[0].render()
    doc = json.loads(json.dumps(to_json(verify([derivation(c)], devices=["cpu"], seed=3)), allow_nan=False))
    (claim_doc,) = doc["derivations"][0]["claims"]
    assert {r["id"]: r["monte_carlo"] for r in claim_doc["references"]} == {"exact": False, "sampled": True}
    assert set(claim_doc["mutants"][0]) >= {"dims", "batch_seed", "rejected", "instances"}
    assert claim_doc["failures"][0]["what"] == "cpu float64" and claim_doc["failures"][0]["detail"]["seed"] == 3


def test_non_finite_numbers_are_spelled_as_strict_json_strings():
    import json

    from checkers.grading.result import json_safe
    from checkers.results import to_json

    c = claim(lhs=None, rhs=None, numeric=lambda s: (torch.full_like(s["u"], float("inf")), s["u"]),
              symbolic=not_attempted("testing JSON"), dtypes=(torch.float64,),
              mutants=(Mutant("zero", "zero instead", numeric=lambda s: (s["u"] * 0, s["u"])),))
    doc = to_json(verify([derivation(c)], devices=["cpu"], seed=0))
    failure = doc["derivations"][0]["claims"][0]["numeric"][0]["failure"]
    assert failure["lhs"] == "Infinity" and failure["abs_error"] == "Infinity"
    json.dumps(doc, allow_nan=False)  # raises on a bare inf or nan
    assert json_safe([float("inf"), float("-inf")]) == ["Infinity", "-Infinity"]


def test_the_lemmas_a_claim_rests_on_survive_json_and_the_report_cache():
    import json
    import pickle

    from checkers.results import to_json
    from checkers.symbolic import facts

    lemmas = ("log t + u − (u + log t) expands to 0", "exp(u) > 0")
    c = claim(lhs=sp.log(t) + u, rhs=u + sp.log(t),
              symbolic=facts((lemmas[0], lambda: sp.expand(sp.log(t) + u - (u + sp.log(t)))),
                             (lemmas[1], lambda: sp.exp(u) > 0)))
    run = verify([derivation(c)], devices=["cpu"], seed=0)
    symbolic = run.derivations[0].claims[0].symbolic
    assert symbolic.status == SymbolicStatus.SUPPORTED and symbolic.lemmas == lemmas
    doc = json.loads(json.dumps(to_json(run), allow_nan=False))
    assert doc["derivations"][0]["claims"][0]["symbolic"]["lemmas"] == list(lemmas)
    assert pickle.loads(pickle.dumps(run)).derivations[0].claims[0].symbolic.lemmas == lemmas  # the report cache
