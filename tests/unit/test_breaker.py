"""The circuit breaker's state machine and the latency EWMA (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from broker.health.breaker import (
    HEALTHY,
    BreakerPolicy,
    ModelHealth,
    circuit,
    claim_probe,
    ewma,
    on_failure,
    on_rate_limited,
    on_success,
)

T0 = 1_700_000_000_000.0  # epoch milliseconds, as the broker's clocks give them
POLICY = BreakerPolicy(failure_threshold=3, open_ms=1_000, max_open_ms=5_000, probe_ms=500, ewma_alpha=0.5)


def fail_times(health: ModelHealth, n: int, now: float) -> ModelHealth:
    for _ in range(n):
        health = on_failure(health, now, POLICY)
    return health


def test_closed_until_the_threshold_of_consecutive_failures() -> None:
    health = fail_times(HEALTHY, 2, T0)
    assert circuit(health, T0) == "closed" and health.failures == 2
    health = on_failure(health, T0 + 10, POLICY)
    assert circuit(health, T0 + 10) == "open"
    assert health.opened_at_ms == T0 + 10 and health.open_ms == 1_000


def test_a_success_resets_the_count_so_failures_must_be_consecutive() -> None:
    health = fail_times(HEALTHY, 2, T0)
    health = on_success(health, T0 + 1, 50.0, POLICY)
    health = fail_times(health, 2, T0 + 2)
    assert circuit(health, T0 + 2) == "closed"


def test_open_becomes_half_open_when_the_period_has_passed() -> None:
    health = fail_times(HEALTHY, 3, T0)
    assert circuit(health, T0 + 999) == "open"
    assert circuit(health, T0 + 1_000) == "half_open"


def test_failures_while_open_do_not_extend_the_period() -> None:
    health = fail_times(HEALTHY, 3, T0)
    later = on_failure(health, T0 + 500, POLICY)
    assert later.opened_at_ms == T0 and later.open_ms == 1_000 and circuit(later, T0 + 1_000) == "half_open"


def test_half_open_probe_success_closes() -> None:
    health = fail_times(HEALTHY, 3, T0)
    health = on_success(health, T0 + 1_200, 80.0, POLICY)
    assert circuit(health, T0 + 1_200) == "closed"
    assert health.failures == 0 and health.open_ms == 0


def test_half_open_probe_failure_reopens_for_twice_as_long_up_to_the_cap() -> None:
    health = fail_times(HEALTHY, 3, T0)
    periods = []
    now = T0
    for _ in range(5):
        now = health.opened_at_ms + health.open_ms  # half-open now
        health = on_failure(health, now, POLICY)
        periods.append(health.open_ms)
        assert circuit(health, now) == "open"
    assert periods == [2_000, 4_000, 5_000, 5_000, 5_000]


def test_one_probe_at_a_time_in_half_open() -> None:
    health = fail_times(HEALTHY, 3, T0)
    ok, _ = claim_probe(health, T0 + 500, POLICY)
    assert not ok  # still open
    ok, health = claim_probe(health, T0 + 1_000, POLICY)
    assert ok
    again, _ = claim_probe(health, T0 + 1_100, POLICY)
    assert not again  # the first probe holds the slot
    after, _ = claim_probe(health, T0 + 1_500, POLICY)
    assert after  # the slot lapsed (probe_ms) without an outcome


def test_closed_circuit_always_admits_without_touching_the_record() -> None:
    ok, health = claim_probe(HEALTHY, 5, POLICY)
    assert ok and health == HEALTHY


def test_rate_limit_sets_a_cooldown_and_leaves_the_breaker_alone() -> None:
    health = on_rate_limited(HEALTHY, 1_000, 2_000)
    assert health.cooldown_until_ms == 3_000 and circuit(health, 1_000) == "closed" and health.failures == 0
    shorter = on_rate_limited(health, 1_500, 100)
    assert shorter.cooldown_until_ms == 3_000  # never shortened


def test_ewma_starts_at_the_first_sample_then_weights_the_newest() -> None:
    assert ewma(None, 100.0, 0.2) == 100.0
    assert ewma(100.0, 200.0, 0.2) == 120.0
    health = on_success(on_success(HEALTHY, 0, 100.0, POLICY), 1, 300.0, POLICY)
    assert health.ewma_ms == 200.0 and health.sampled_at_ms == 1


EVENTS = st.lists(
    st.tuples(st.sampled_from(["ok", "fail", "rate_limited"]), st.floats(0, 3_000), st.floats(0, 5_000)),
    max_size=40,
)


@given(EVENTS)
def test_any_history_keeps_the_record_sane(events: list[tuple[str, float, float]]) -> None:
    health = HEALTHY
    now = T0
    for kind, step, value in events:
        now += step
        if kind == "ok":
            health = on_success(health, now, value, POLICY)
        elif kind == "fail":
            health = on_failure(health, now, POLICY)
        else:
            health = on_rate_limited(health, now, value)
        assert health.open_ms <= POLICY.max_open_ms
        assert (health.opened_at_ms == 0) == (health.open_ms == 0)
        if kind == "ok":
            assert circuit(health, now) == "closed"
        if circuit(health, now) != "closed":
            assert health.failures >= POLICY.failure_threshold
