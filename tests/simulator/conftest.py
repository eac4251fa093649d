"""One simulator subprocess for the whole test session; each test starts with no faults and zero stats."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.simulator.runner import SimulatorProcess, start_simulator

SIM_CONFIG = {
    "seed": 1,
    "default": {"output_tokens": 24},
    "models": {
        "gpt-4o-mini": {"output_tokens": 24},
        "gpt-3.5-turbo": {"output_tokens": 12},
        "ranged-*": {"output_tokens": [5, 50]},
        "paced": {"output_tokens": 20, "tokens_per_second": 100},
        "slow": {"output_tokens": 3, "latency": 0.3},
    },
}


@pytest.fixture(scope="session")
def sim_process() -> Iterator[SimulatorProcess]:
    with start_simulator(SIM_CONFIG) as sim:
        yield sim


@pytest.fixture
def sim(sim_process: SimulatorProcess) -> Iterator[SimulatorProcess]:
    sim_process.set_faults([])
    sim_process.reset()
    yield sim_process
    sim_process.set_faults([])
