"""The `proofcheck` command line: list, verify, exit codes and the JSON document."""

import json
import subprocess
import sys

import pytest

from checkers.cli import main

ID = "gaussian-change-of-variables"


def test_list_shows_ids_titles_and_sources(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    row = next(r for r in rows if r["id"] == ID)
    assert row["source"].startswith("hw6-2021 P3") and "density" in row["claims"]


def test_verify_json_document_shape(capsys):
    assert main(["verify", f"{ID}/det-gram", "--device", "cpu", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is True
    (derivation,) = doc["derivations"]
    assert derivation["id"] == ID and derivation["passed"] is True
    (claim,) = derivation["claims"]
    assert claim["symbolic"]["status"] == "proved" and claim["symbolic"]["scope"] == "general"
    numeric = {r["dtype"]: r for r in claim["numeric"]}
    assert numeric["float64"]["instances"] >= 1000 and numeric["float64"]["worst_rel_error"] < 1e-7
    assert all(m["caught"] is True for m in claim["mutants"]) and {m["id"] for m in claim["mutants"]} == {"no-square", "trace"}
    # where each mutant was rejected travels as fields, not inside its evidence text
    assert all(isinstance(m["dims"], dict) and 0 < m["rejected"] <= m["instances"] and m["batch_seed"] is not None
               for m in claim["mutants"])
    assert claim["failures"] == [] and all(r["monte_carlo"] is False for r in claim["references"])


def test_dtype_filter_restricts_the_run(capsys):
    assert main(["verify", f"{ID}/inverse-gram", "--dtype", "float32", "--json"]) == 0
    claim = json.loads(capsys.readouterr().out)["derivations"][0]["claims"][0]
    assert [r["dtype"] for r in claim["numeric"]] == ["float32"]


@pytest.mark.parametrize("argv, message", [
    (["verify", "no-such-id"], "unknown derivation 'no-such-id'"),
    (["verify", f"{ID}/no-such-claim"], "unknown claim 'no-such-claim'"),
    (["verify", "--device", "tpu"], "unknown device 'tpu'"),
    (["verify", "--dtype", "float8"], "unknown dtype 'float8'"),
])
def test_bad_arguments_get_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_unavailable_device_is_refused_not_faked(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["verify", "--device", "cuda"]) == 2
    assert "not available on this machine" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "checkers", "list", "--json"], capture_output=True, text=True, check=True)
    assert ID in out.stdout


def test_a_failing_claim_exits_1_and_prints_its_replayable_report(monkeypatch, capsys):
    import sympy as sp

    from checkers import Claim, Derivation, Mutant, Positive, Variable, not_attempted
    from checkers import registry

    t = sp.Symbol("t", positive=True)
    wrong = Derivation("toy", "a false identity", "none P0", claims=(Claim(
        id="off", statement="t = 1.01 t", lhs=t, rhs=1.01 * t, variables=(Variable("t", Positive()),),
        symbolic=not_attempted("numeric only"), mutants=(Mutant("double", "2t", rhs=2 * t),)),))
    monkeypatch.setattr(registry, "all_derivations", lambda: (wrong,))
    assert main(["verify", "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "toy / off" in out
    assert "replay: proofcheck verify toy/off --seed 0 --device cpu --dtype float64" in out


def test_pytest_names_every_claim_item_after_its_derivation_claim_and_device():
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "proofs/gaussian_change_of_variables.py"],
                         capture_output=True, text=True, check=True).stdout
    for claim in ("density", "det-gram", "inverse-gram"):
        assert f"gaussian-change-of-variables/{claim}_cpu" in out


def test_instances_below_a_claim_s_declared_count_are_refused(capsys):
    assert main(["verify", f"{ID}/det-gram", "--instances", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--instances 1 is below the declared minimum" in err and f"{ID}/det-gram (1000)" in err


def test_json_states_the_instances_each_dtype_really_ran(capsys):
    assert main(["verify", f"{ID}/det-gram", "--instances", "1200", "--dtype", "float64", "--json"]) == 0
    claim = json.loads(capsys.readouterr().out)["derivations"][0]["claims"][0]
    # 4 hypothesis configs of ⌈1200 / 4⌉ instances each
    assert [r["instances"] for r in claim["numeric"]] == [1200]


def test_threads_option_is_validated_and_matches_the_engine_default():
    from checkers import cli
    from checkers.verify import DEFAULT_THREADS

    assert cli.DEFAULT_THREADS == DEFAULT_THREADS
    assert main(["verify", "--threads", "0"]) == 2
