"""Fault timing without a server: flap windows, schedules, rates, matching order."""

from __future__ import annotations

import pytest

from scripts.simulator.config import FaultRule, FlapSpec
from scripts.simulator.faults import FaultTable, FlapSchedule, flap_windows, in_windows


def test_flap_windows_are_deterministic_and_prefix_stable():
    short = flap_windows(0.2, 5.0, seed=3, horizon_s=100)
    long = flap_windows(0.2, 5.0, seed=3, horizon_s=1000)
    assert short == flap_windows(0.2, 5.0, seed=3, horizon_s=100)
    assert long[: len(short)] == short
    assert flap_windows(0.2, 5.0, seed=4, horizon_s=100) != short


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.6])
def test_flap_down_share_matches_the_fraction(fraction):
    horizon = 50_000.0
    edges = flap_windows(fraction, 5.0, seed=1, horizon_s=horizon)
    down = sum(min(end, horizon) - start for start, end in zip(edges[::2], edges[1::2], strict=True) if start < horizon)
    assert down / horizon == pytest.approx(fraction, abs=0.04)


def test_flap_starts_up_and_windows_are_ordered():
    edges = flap_windows(0.5, 1.0, seed=9, horizon_s=100)
    assert edges == sorted(edges)
    assert not in_windows(edges, 0.0)
    start, end = edges[0], edges[1]
    assert in_windows(edges, (start + end) / 2)
    assert not in_windows(edges, end)  # windows are [start, end)


def test_flap_schedule_agrees_with_the_pure_function():
    schedule = FlapSchedule(FlapSpec(down_fraction=0.3, mean_down_s=2.0, seed=5))
    edges = flap_windows(0.3, 2.0, seed=5, horizon_s=5_000)
    for t in [0.5 * i for i in range(8_000)]:
        assert schedule.is_down(t) == in_windows(edges, t)


def rule(**fields) -> FaultRule:
    return FaultRule.model_validate(fields)


def test_schedule_windows_relative_to_installation():
    table = FaultTable([rule(kind="503", schedule=[[10, 20]])], seed=0, installed_at=1000.0)
    assert table.pick("p", "m", now=1005.0) is None
    assert table.pick("p", "m", now=1010.0).kind == "503"
    assert table.pick("p", "m", now=1019.9).kind == "503"
    assert table.pick("p", "m", now=1020.0) is None


def test_rate_is_seeded_and_roughly_right():
    def run(seed: int) -> list[bool]:
        table = FaultTable([rule(kind="500", rate=0.25)], seed=seed, installed_at=0.0)
        return [table.pick("p", "m", now=1.0) is not None for _ in range(2_000)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert sum(run(1)) / 2_000 == pytest.approx(0.25, abs=0.04)


def test_rate_zero_never_and_unset_always():
    assert FaultTable([rule(kind="500", rate=0)], 0, 0.0).pick("p", "m", 1.0) is None
    assert FaultTable([rule(kind="500")], 0, 0.0).pick("p", "m", 1.0).kind == "500"


def test_globs_and_first_match_wins():
    table = FaultTable(
        [
            rule(provider="openai", model="gpt-4o*", kind="429", retry_after=3),
            rule(provider="*", model="*", kind="500", rate=0),
            rule(provider="anth*", kind="529"),
        ],
        seed=0,
        installed_at=0.0,
    )
    fault = table.pick("openai", "gpt-4o-mini", 1.0)
    assert (fault.kind, fault.retry_after) == ("429", 3)
    assert table.pick("openai", "gpt-3.5-turbo", 1.0) is None
    assert table.pick("anthropic", "claude", 1.0).kind == "529"


def test_schedule_and_flap_combine():
    flap = {"down_fraction": 0.5, "mean_down_s": 1.0, "seed": 2}
    table = FaultTable([rule(kind="503", schedule=[[0, 50]], flap=flap)], seed=0, installed_at=0.0)
    edges = flap_windows(0.5, 1.0, 2, 100)
    for t in [0.25 * i for i in range(400)]:
        expected = t < 50 and in_windows(edges, t)
        assert (table.pick("p", "m", t) is not None) == expected
