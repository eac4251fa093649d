"""The router's choice: candidates ordered by health, cheapest-first among equals (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from broker.health.breaker import HEALTHY, ModelHealth
from broker.router import RouterSettings, route

SETTINGS = RouterSettings(model_sla_ms={"a": None, "b": 2_000.0, "c": None}, latency_window_ms=60_000)
NOW = 1_000_000.0
OPEN = ModelHealth(failures=5, opened_at_ms=NOW - 100, open_ms=10_000)
HALF_OPEN = ModelHealth(failures=5, opened_at_ms=NOW - 20_000, open_ms=10_000)
PROBING = ModelHealth(failures=5, opened_at_ms=NOW - 20_000, open_ms=10_000, probe_until_ms=NOW + 5_000)
COOLING = ModelHealth(cooldown_until_ms=NOW + 2_000)
SLOW = ModelHealth(ewma_ms=5_000.0, sampled_at_ms=NOW - 1_000)


def test_all_healthy_keeps_the_configured_order() -> None:
    chosen = route(["a", "b", "c"], {}, NOW, SETTINGS)
    assert chosen.order == ("a", "b", "c") and chosen.wait_ms == 0 and chosen.statuses == ("ok", "ok", "ok")


def test_an_open_circuit_moves_behind_a_healthy_alternative() -> None:
    assert route(["a", "b", "c"], {"a": OPEN}, NOW, SETTINGS).order == ("b", "c", "a")


def test_with_no_alternative_the_open_model_is_still_tried() -> None:
    chosen = route(["a"], {"a": OPEN}, NOW, SETTINGS)
    assert chosen.order == ("a",) and chosen.statuses == ("open",) and chosen.wait_ms == 0


def test_half_open_is_offered_for_a_probe_unless_a_probe_is_in_flight() -> None:
    assert route(["a", "b"], {"a": HALF_OPEN, "b": OPEN}, NOW, SETTINGS).statuses[0] == "half_open"
    assert route(["a", "b"], {"a": HALF_OPEN}, NOW, SETTINGS).order == ("b", "a")
    assert route(["a", "b"], {"a": PROBING, "b": OPEN}, NOW, SETTINGS).statuses == ("open", "open")


def test_slow_against_the_models_sla_or_the_jobs() -> None:
    assert route(["b", "c"], {"b": SLOW}, NOW, SETTINGS).order == ("c", "b")
    assert route(["a", "c"], {"a": SLOW}, NOW, SETTINGS).order == ("a", "c")  # a has no SLA
    assert route(["a", "c"], {"a": SLOW}, NOW, SETTINGS, job_sla_ms=1_000).order == ("c", "a")
    assert route(["b", "c"], {"b": SLOW}, NOW, SETTINGS, job_sla_ms=10_000).order == ("b", "c")


def test_a_stale_latency_sample_says_nothing() -> None:
    stale = ModelHealth(ewma_ms=5_000.0, sampled_at_ms=NOW - 120_000)
    assert route(["b", "c"], {"b": stale}, NOW, SETTINGS).order == ("b", "c")


def test_slow_beats_open_and_open_beats_cooling() -> None:
    chosen = route(["a", "b", "c"], {"a": COOLING, "b": SLOW, "c": OPEN}, NOW, SETTINGS)
    assert chosen.order == ("b", "c", "a")


def test_all_cooling_waits_for_the_first_to_be_free() -> None:
    later = ModelHealth(cooldown_until_ms=NOW + 5_000)
    chosen = route(["a", "b"], {"a": later, "b": COOLING}, NOW, SETTINGS)
    assert chosen.head == "b" and chosen.wait_ms == 2_000


def test_the_jobs_own_cooldown_counts_even_when_health_has_not_seen_it() -> None:
    chosen = route(["a", "b"], {}, NOW, SETTINGS, cooldowns={"a": NOW + 1_500})
    assert chosen.order == ("b", "a")
    alone = route(["a"], {}, NOW, SETTINGS, cooldowns={"a": NOW + 1_500})
    assert alone.wait_ms == 1_500


HEALTHS = st.sampled_from([HEALTHY, OPEN, HALF_OPEN, PROBING, COOLING, SLOW])


@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=5, unique=True), st.data())
def test_route_is_a_stable_permutation_with_healthy_models_first(names: list[str], data: st.DataObject) -> None:
    snapshot = {name: data.draw(HEALTHS) for name in names}
    chosen = route(names, snapshot, NOW, SETTINGS)
    assert sorted(chosen.order) == sorted(names)
    healthy = [n for n in names if chosen.statuses[chosen.order.index(n)] == "ok"]
    assert list(chosen.order[: len(healthy)]) == healthy  # cheapest-first order kept among the healthy
    ranks = ["ok", "half_open", "slow", "open", "cooling"]
    assert [ranks.index(s) for s in chosen.statuses] == sorted(ranks.index(s) for s in chosen.statuses)
