"""Dated prices, cost at completion, routing savings and the cheapest model: pure price math."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.pricing import cheapest_model, cost_at, rates_at, reference_tier, routing_saved_usd
from broker.settings import ConfigError, load_config, parse_config, sample_config_path
from schemas.config import Price

CONFIG = load_config(sample_config_path())


def ts(day: str, hour: int = 0) -> float:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC).timestamp()


HISTORY = Price.model_validate(
    {
        "input": 1.0,
        "output": 2.0,
        "price_history": [
            {"from": "2026-11-15", "input": 3.0, "output": 4.0, "cached_input": 0.5},
            {"from": "2026-12-01", "input": 5.0, "output": 6.0},
        ],
    }
)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (ts("2026-11-14", 23) + 3599.999, (1.0, 2.0, None)),  # last instant before the change
        (ts("2026-11-15"), (3.0, 4.0, 0.5)),  # from 00:00 UTC of its date
        (ts("2026-11-30", 12), (3.0, 4.0, 0.5)),
        (ts("2026-12-01"), (5.0, 6.0, None)),
        (ts("2030-01-01"), (5.0, 6.0, None)),
    ],
)
def test_the_price_in_force_is_the_latest_change_on_or_before_the_day(moment: float, expected: tuple) -> None:
    rates = rates_at(HISTORY, moment)
    assert (rates.input, rates.output, rates.cached_input) == expected
    assert rates.price_history == []


@given(st.integers(min_value=0, max_value=4_000_000_000))
def test_rates_at_matches_a_naive_search(seconds: int) -> None:
    day = datetime.fromtimestamp(seconds, UTC).date()
    applicable = [c for c in HISTORY.price_history if c.effective_from <= day]
    want = (applicable[-1].input, applicable[-1].output) if applicable else (HISTORY.input, HISTORY.output)
    got = rates_at(HISTORY, seconds)
    assert (got.input, got.output) == want


def test_mid_month_change_prices_each_job_by_its_completion_time() -> None:
    before = cost_at(HISTORY, ts("2026-11-10"), 1_000_000, 1_000_000)
    after = cost_at(HISTORY, ts("2026-11-20"), 1_000_000, 1_000_000, cached_tokens=500_000)
    assert before == pytest.approx(3.0)
    assert after == pytest.approx(0.5 * 3.0 + 0.5 * 0.5 + 4.0)


def test_price_history_must_increase_and_accepts_from_as_the_key() -> None:
    data = {
        "providers": {"p": {"kind": "openai", "api_key_env": "K"}},
        "models": {
            "m": {
                "provider": "p",
                "upstream": "m",
                "tier": "simple",
                "price": {
                    "input": 1,
                    "output": 1,
                    "price_history": [
                        {"from": "2026-02-01", "input": 1, "output": 1},
                        {"from": "2026-01-01", "input": 1, "output": 1},
                    ],
                },
            }
        },
    }
    with pytest.raises(ConfigError, match="price_history"):
        parse_config(data, {})
    data["models"]["m"]["price"]["price_history"].reverse()
    config = parse_config(data, {})
    assert config.models["m"].price.price_history[0].effective_from == date(2026, 1, 1)


def test_routing_savings_compare_with_the_tiers_most_expensive_model() -> None:
    now = ts("2026-11-20")
    usage = (1000, 500, 0)
    top = max(cost_at(CONFIG.models[m].price, now, *usage) for m in CONFIG.tier_candidates("simple"))
    mini = cost_at(CONFIG.models["gpt-4o-mini"].price, now, *usage)
    assert routing_saved_usd(CONFIG, "simple", "gpt-4o-mini", now, *usage) == pytest.approx(top - mini)
    # the top model itself saves nothing; a job that named a model was not routed
    assert routing_saved_usd(CONFIG, "simple", "claude-3-5-haiku", now, *usage) == 0
    assert routing_saved_usd(CONFIG, None, "gpt-4o-mini", now, *usage) == 0
    # auto is compared with the top tier
    assert reference_tier("auto") == "complex"
    sonnet = cost_at(CONFIG.models["claude-sonnet"].price, now, *usage)
    assert routing_saved_usd(CONFIG, "auto", "gpt-4o-mini", now, *usage) == pytest.approx(sonnet - mini)


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(sorted(CONFIG.models)))
def test_routing_savings_are_never_negative(input_tokens: int, output_tokens: int, model: str) -> None:
    for tier in ("simple", "standard", "complex", "auto"):
        assert routing_saved_usd(CONFIG, tier, model, ts("2026-11-20"), input_tokens, output_tokens) >= 0


def test_cheapest_model_uses_the_price_in_force() -> None:
    assert cheapest_model(CONFIG, ts("2026-11-20")) == "llama-3.1-8b"
    cheap_later = CONFIG.model_copy(deep=True)
    mini = cheap_later.models["gpt-4o-mini"].price
    mini.price_history = [
        HISTORY.price_history[0].model_copy(
            update={"effective_from": date(2026, 11, 20) + timedelta(days=1), "input": 0.0, "output": 0.0}
        )
    ]
    assert cheapest_model(cheap_later, ts("2026-11-20")) == "llama-3.1-8b"
    assert cheapest_model(cheap_later, ts("2026-11-22")) == "gpt-4o-mini"
