"""pytest plugin: every claim of the configured proof packages is a test item per device, named `derivation/claim_cpu`.

Collected from the proof modules themselves (like pytest's YAML example), so a CI failure reads
"gaussian-change-of-variables/density_cpu" followed by the failure report with its replay command.
Each item runs its claim exactly as `proofcheck verify` does (one torch thread, float32 in IEEE
float32, not TF32), so an item and `verify` never disagree. The hypothesis profiles `ci`
(derandomized) and `dev` (fewer examples) are registered and loaded when pytest configures, not
when this module is imported.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config):
    from hypothesis import HealthCheck, settings

    settings.register_profile("ci", derandomize=True, deadline=None, max_examples=50, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", max_examples=15, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser):
    group = parser.getgroup("proofcheck")
    group.addoption("--proofcheck-seed", type=int, default=0, help="run seed for the claim items (default 0)")


class ClaimFailed(Exception):
    """A claim item failed; carries the rendered failure reports."""


def pytest_collect_file(file_path, parent):
    if file_path.suffix != ".py" or file_path.name == "__init__.py":
        return None
    from checkers.registry import package_of

    package = package_of(file_path)  # a module of a configured proof package (checkers.registry)
    if package is not None:
        return ProofModule.from_parent(parent, path=file_path, package=package)
    return None


class ProofModule(pytest.File):
    def __init__(self, *, package: str, **kwargs):
        super().__init__(**kwargs)
        self.package = package

    def collect(self):
        import importlib

        from checkers.devices import available_devices

        module = importlib.import_module(f"{self.package}.{self.path.stem}")
        for derivation in getattr(module, "DERIVATIONS", ()):
            for claim in derivation.claims:
                for device in available_devices():
                    yield ClaimItem.from_parent(self, name=f"{derivation.id}/{claim.id}_{device}",
                                                derivation=derivation, claim=claim, device=device)


class ClaimItem(pytest.Item):
    def __init__(self, *, derivation, claim, device, **kwargs):
        super().__init__(**kwargs)
        self.derivation, self.claim, self.device = derivation, claim, device

    def replay(self) -> str:
        seed = self.config.getoption("--proofcheck-seed")
        return f"proofcheck verify {self.derivation.id}/{self.claim.id} --seed {seed} --device {self.device}"

    def runtest(self):
        from checkers.verify import DEFAULT_THREADS, ClaimChecker, ieee_float32, torch_threads

        seed = self.config.getoption("--proofcheck-seed")
        with torch_threads(DEFAULT_THREADS), ieee_float32():
            result = ClaimChecker(self.derivation, self.claim, seed).run([self.device])
        if not result.passed:
            raise ClaimFailed("\n".join(result.failures) + f"\nreplay the claim: {self.replay()}")
        if not result.ran_numeric:
            pytest.skip(f"no dtype of this claim runs on {self.device}")

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, ClaimFailed):
            return f"{self.derivation.id} / {self.claim.id} on {self.device}:\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.derivation.id}/{self.claim.id} [{self.device}]"
