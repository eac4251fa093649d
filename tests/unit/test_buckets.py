"""Token-bucket arithmetic: property tests (never negative, never above capacity, exact refill)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from broker.admission.buckets import BucketState, Draw, adjust, refill, try_reserve, wait_ms

capacities = st.floats(min_value=1, max_value=1e7, allow_nan=False)
rates = st.floats(min_value=1e-4, max_value=1e3, allow_nan=False)
times = st.floats(min_value=0, max_value=1e8, allow_nan=False)


@given(capacities, rates, st.floats(0, 1), times, times)
def test_refill_is_exact_and_capped(capacity: float, rate: float, fraction: float, t0: float, dt: float) -> None:
    state = BucketState(capacity * fraction, t0)
    now = t0 + dt
    after = refill(state, now, capacity, rate)
    assert after.level == min(capacity, capacity * fraction + (now - t0) * rate)
    assert after.at_ms == now
    assert after.level <= capacity


@given(capacities, rates, times)
def test_unknown_bucket_is_full(capacity: float, rate: float, now: float) -> None:
    assert refill(None, now, capacity, rate).level == capacity


@given(
    st.lists(st.tuples(capacities, rates, st.floats(0, 1), st.floats(0, 1.5)), min_size=1, max_size=5),
    times,
)
def test_reserve_is_all_or_nothing_and_never_negative(
    buckets: list[tuple[float, float, float, float]], now: float
) -> None:
    states = [BucketState(c * fill, now) for c, _, fill, _ in buckets]
    draws = [Draw(c, r, c * share) for c, r, _, share in buckets]
    admitted, after, wait = try_reserve(states, draws, now)
    if admitted:
        assert wait == 0
        assert all(s.level >= 0 for s in after)
        assert all(a.level == b.level - d.cost for a, b, d in zip(after, states, draws, strict=True))
    else:
        assert wait > 0
        assert any(b.level < d.cost for b, d in zip(states, draws, strict=True))
        assert after == states  # nothing taken


@given(capacities, rates, st.floats(0, 1), st.floats(0, 1))
def test_waiting_the_reported_time_is_enough(capacity: float, rate: float, fill: float, share: float) -> None:
    state = BucketState(capacity * fill, 0.0)
    draw = Draw(capacity, rate, capacity * share)
    admitted, _, wait = try_reserve([state], [draw], 0.0)
    if not admitted:
        ok, _, _ = try_reserve([state], [draw], wait * (1 + 1e-9) + 1e-6)
        assert ok


@given(
    capacities,
    rates,
    st.lists(st.tuples(st.floats(0, 5000), st.floats(0, 1)), min_size=1, max_size=60),
    st.floats(1, 120_000),
)
def test_any_window_admits_at_most_capacity_plus_refill(
    capacity: float, rate: float, steps: list[tuple[float, float]], window: float
) -> None:
    """Replay random requests; in every window of length W, admitted ≤ capacity + rate·W."""
    now, state, admitted = 0.0, None, []
    for gap, share in steps:
        now += gap
        ok, (state_after,), _ = try_reserve([state], [Draw(capacity, rate, capacity * share)], now)
        state = state_after
        if ok:
            admitted.append((now, capacity * share))
    for start, _ in admitted:
        total = sum(cost for t, cost in admitted if start <= t <= start + window)
        assert total <= capacity + rate * window + 1e-6 * capacity


@given(capacities, rates, st.floats(-1, 1), st.floats(-2, 2), times)
def test_adjust_never_exceeds_capacity(capacity: float, rate: float, fill: float, delta: float, dt: float) -> None:
    after = adjust(BucketState(capacity * fill, 0.0), dt, capacity, rate, capacity * delta)
    assert after.level <= capacity


def test_wait_ms() -> None:
    assert wait_ms(10, 5, 1) == 0
    assert wait_ms(0, 5, 0.5) == 10
    assert math.isinf(wait_ms(0, 5, 0))
