"""Sampling shared by the engine and the grader: hypothesis draws dimensions and seeds, torch draws the batch."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from checkers.model import Claim, Sample

CONFIGS_PER_CLAIM = 4


@dataclass(frozen=True)
class Config:
    """One hypothesis draw: the dimensions and the torch seed of one batch."""

    dims: dict[str, int]
    batch_seed: int


def draw_configs(claim: Claim, seed: int, count: int = CONFIGS_PER_CLAIM) -> list[Config]:
    """Hypothesis draws `count` (dims, batch seed) pairs; the same `seed` always gives the same list.

    Hypothesis tries the simplest example first (every dimension at its lower bound), then spreads out.
    It is imported here, not at module level, so that commands that never draw (grading) start faster.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    strategy = st.fixed_dictionaries({
        "dims": st.fixed_dictionaries({name: st.integers(lo, hi) for name, (lo, hi) in sorted(claim.dims.items())}),
        "batch_seed": st.integers(0, 2**31 - 1),
    })
    drawn: list[Config] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example):
        config = Config(dict(example["dims"]), example["batch_seed"])
        if config not in drawn:
            drawn.append(config)

    collect()
    return drawn[:count]


def draw_sample(claim: Claim, config: Config, batch: int) -> Sample:
    """The float64 CPU batch for one config: every variable drawn from one seeded generator."""
    gen = torch.Generator().manual_seed(config.batch_seed)
    values = {v.name: v.draw(batch, config.dims, gen) for v in claim.variables}
    sample = Sample(values=values, dims=config.dims, seed=config.batch_seed, size=batch)
    for symbol, definition in claim.definitions.items():
        values[symbol.name] = sample.evaluate(definition)
    return sample
