"""Token-bucket arithmetic, pure. The Lua in ``broker/jobstore/buckets.lua`` is its twin
(the tests run one table of operations through both and compare).

A bucket holds at most ``capacity`` tokens and refills continuously at ``rate`` tokens per
millisecond. Admission takes tokens only when *every* bucket of a job has enough, so in
any window of length W a bucket hands out at most ``capacity + rate * W``. Settlement
may push a level below zero (a provider billed more than was reserved): that debt is
paid back by refill before the bucket admits again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BucketState:
    level: float
    at_ms: float


def refill(state: BucketState | None, now_ms: float, capacity: float, rate: float) -> BucketState:
    """The state at ``now_ms``; a bucket never seen (or expired) is full."""
    if state is None:
        return BucketState(capacity, now_ms)
    elapsed = max(0.0, now_ms - state.at_ms)
    return BucketState(min(capacity, state.level + elapsed * rate), max(now_ms, state.at_ms))


def wait_ms(level: float, cost: float, rate: float) -> float:
    """How long until ``level`` reaches ``cost`` at ``rate``; 0 when it already has."""
    if level >= cost:
        return 0.0
    # never 0 for a real shortfall, even when the division underflows (a denormal cost)
    return math.inf if rate <= 0 else max((cost - level) / rate, math.ulp(0.0))


@dataclass(frozen=True)
class Draw:
    """One bucket's part in a decision: its limits and what the job takes from it."""

    capacity: float
    rate: float
    cost: float


def try_reserve(
    states: Sequence[BucketState | None], draws: Sequence[Draw], now_ms: float
) -> tuple[bool, list[BucketState], float]:
    """All or nothing: (admitted, new states, ms to wait when refused)."""
    current = [refill(s, now_ms, d.capacity, d.rate) for s, d in zip(states, draws, strict=True)]
    wait = max((wait_ms(s.level, d.cost, d.rate) for s, d in zip(current, draws, strict=True)), default=0.0)
    if wait > 0:
        return False, current, wait
    taken = [BucketState(s.level - d.cost, now_ms) for s, d in zip(current, draws, strict=True)]
    return True, taken, 0.0


def adjust(state: BucketState | None, now_ms: float, capacity: float, rate: float, delta: float) -> BucketState:
    """Give back (``delta`` > 0) or charge (< 0) tokens after the fact; never above capacity."""
    current = refill(state, now_ms, capacity, rate)
    return BucketState(min(capacity, current.level + delta), now_ms)


def never_fits(cost: float, capacity: float) -> bool:
    return cost > capacity
