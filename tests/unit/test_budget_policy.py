"""The budget decision and the counters behind it: pure functions, no Redis."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.auth import Principal
from broker.budgets.counters import (
    NANO,
    WAIT_BUCKETS,
    admission_wait_fields,
    finish_counters,
    month_of,
    parse_scope,
    spend_field,
    to_nano,
)
from broker.budgets.enforce import apply_decision, downgrade_candidates
from broker.budgets.policy import Budget, budget_state, budgeted_scopes, budgets_for, evaluate, worst
from broker.errors import BudgetExceeded
from broker.settings import load_config, parse_config, sample_config_path
from broker.submit import prepare_job
from schemas.chat import JobRequest
from schemas.usage import UsageRecord

CONFIG = load_config(sample_config_path())
T = (0.5, 0.8, 1.0)


@pytest.mark.parametrize(
    ("spend", "policy", "crossed", "action"),
    [
        (0.0, "block", (), "run"),
        (0.49, "block", (), "run"),
        (0.50, "block", (0.5,), "run"),
        (0.80, "downgrade", (0.5, 0.8), "run"),
        (0.999999, "block", (0.5, 0.8), "run"),
        (1.00, "block", (0.5, 0.8, 1.0), "block"),
        (1.00, "downgrade", (0.5, 0.8, 1.0), "downgrade"),
        (7.00, "alert", (0.5, 0.8, 1.0), "run"),
    ],
)
def test_budget_state_table(spend: float, policy: str, crossed: tuple, action: str) -> None:
    state = budget_state(spend, 1.0, T, policy)
    assert state.crossed == crossed
    assert state.action == action
    assert state.exhausted == (spend >= 1.0)


def test_exactly_at_a_threshold_counts_despite_float_sums() -> None:
    spend = sum([0.1] * 8)  # 0.7999999999999999
    assert budget_state(spend, 1.0, T, "block").crossed == (0.5, 0.8)


@given(
    st.floats(0, 1000, allow_nan=False),
    st.floats(0, 1000, allow_nan=False),
    st.floats(0.01, 500, allow_nan=False),
    st.sampled_from(["alert", "block", "downgrade"]),
)
def test_more_spend_never_uncrosses_and_policy_bites_only_when_spent(
    a: float, b: float, usd: float, policy: str
) -> None:
    low, high = sorted((a, b))
    s_low, s_high = budget_state(low, usd, T, policy), budget_state(high, usd, T, policy)
    assert set(s_low.crossed) <= set(s_high.crossed)
    for state in (s_low, s_high):
        assert (state.action != "run") == (policy != "alert" and 1.0 in state.crossed)


def test_worst_prefers_block_then_downgrade_then_the_fullest() -> None:
    team = evaluate(Budget("a", None, 10, T, "downgrade"), 10)
    feature = evaluate(Budget("a", "f", 1, T, "block"), 2)
    calm = evaluate(Budget("a", "g", 1, T, "block"), 0.1)
    assert worst([team, feature, calm]) is feature
    assert worst([calm, team]) is team
    assert worst([]) is None


def test_budgets_for_team_and_feature_with_overrides() -> None:
    found = budgets_for(CONFIG, "search", "autocomplete", {})
    assert [(b.feature, b.usd, b.policy) for b in found] == [
        (None, 500, "downgrade"),
        ("autocomplete", 100, "downgrade"),
    ]
    raised = budgets_for(CONFIG, "search", "autocomplete", {("search", None): 900.0})
    assert raised[0].usd == 900
    assert budgets_for(CONFIG, "search", "other", {}) == budgets_for(CONFIG, "search", None, {})
    # a team without a configured budget gets one from an override, alert-only
    config = parse_config({**_minimal(), "teams": {"t": {}}}, {})
    assert budgets_for(config, "t", None, {}) == []
    assert budgets_for(config, "t", None, {("t", None): 5.0})[0].policy == "alert"
    assert budgeted_scopes(CONFIG, {("x", "y"): 1.0}) == [
        ("search", None),
        ("search", "autocomplete"),
        ("support", None),
        ("x", "y"),
    ]


def _minimal() -> dict:
    return {
        "providers": {"p": {"kind": "openai", "api_key_env": "K"}},
        "models": {"m": {"provider": "p", "upstream": "m", "tier": "simple", "price": {"input": 1, "output": 1}}},
    }


def test_budget_config_is_validated() -> None:
    from broker.settings import ConfigError

    for budget, needle in [
        ({"monthly_usd": 0}, "monthly_usd"),
        ({"monthly_usd": 5, "policy": "panic"}, "policy"),
        ({"monthly_usd": 5, "thresholds": [0]}, "thresholds"),
        ({"monthly_usd": 5, "features": {"f": -1}}, "features"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            parse_config({**_minimal(), "teams": {"t": {"budget": budget}}}, {})


def _job(feature: str = "default", **fields: object):
    request = JobRequest.model_validate(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "metadata": {"feature": feature}, **fields}
    )
    return prepare_job(request, Principal("search", "u", "k"), CONFIG, time.time())


def test_block_refuses_with_a_message_naming_the_budget() -> None:
    state = evaluate(Budget("search", None, 500, T, "block"), 512.5)
    with pytest.raises(BudgetExceeded) as caught:
        apply_decision(_job(), state, CONFIG, time.time())
    assert caught.value.status == 402
    message = caught.value.message
    assert "search" in message and "$512.50" in message and "$500.00" in message and "budgets set" in message


def test_downgrade_routes_to_the_cheapest_model_of_the_cheapest_tier() -> None:
    state = evaluate(Budget("search", None, 500, T, "downgrade"), 600)
    job = apply_decision(_job(), state, CONFIG, time.time())
    assert job.candidates[0] == "llama-3.1-8b"
    assert job.candidates == downgrade_candidates(CONFIG, time.time())
    assert set(job.candidates) == set(CONFIG.tiers["simple"])
    calm = evaluate(Budget("search", None, 500, T, "downgrade"), 10)
    original = _job()
    assert apply_decision(original, calm, CONFIG, time.time()) is original
    assert apply_decision(original, None, CONFIG, time.time()) is original


def _usage(**fields: object) -> UsageRecord:
    base = dict(
        job_id="job_1",
        attempt=1,
        team="search",
        user="u",
        key_id="k",
        feature="autocomplete",
        provider="openai",
        model="gpt-4o",
        state="succeeded",
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.000123456789,
        created_at=1795000000.0,
        finished_at=1795000001.0,
    )
    return UsageRecord.model_validate({**base, **fields})


def test_finish_counters_charge_team_and_feature_in_nano_dollars() -> None:
    counters = finish_counters(_usage())
    spend = {parse_scope(name): value for index, name, value in counters.bumps if index == 4}
    assert spend == {("search", None): 123457, ("search", "autocomplete"): 123457}
    assert counters.month == month_of(1795000001.0)
    stats = {tuple(json.loads(name)): value for index, name, value in counters.bumps if index == 5}
    assert stats[("jobs", "search", "openai", "gpt-4o", "succeeded")] == 1
    assert stats[("input_tokens", "search", "openai", "gpt-4o")] == 10
    assert ("cache_hits", "search", "openai", "gpt-4o") not in stats  # zero increments are left out
    assert json.loads(counters.as_json())[0] == [4, spend_field("search"), "123457"]


def test_a_failed_job_costs_nothing_but_is_counted() -> None:
    counters = finish_counters(_usage(state="failed", cost_usd=0, input_tokens=0, output_tokens=0))
    assert [b for b in counters.bumps if b[0] == 4] == []
    assert [json.loads(b[1])[0] for b in counters.bumps] == ["jobs"]


@given(st.lists(st.floats(0, 50, allow_nan=False), max_size=200))
def test_nano_dollar_sums_stay_within_a_cent_of_the_float_sum(costs: list[float]) -> None:
    assert abs(sum(to_nano(c) for c in costs) / NANO - sum(costs)) < 0.01


def test_admission_wait_buckets_are_cumulative() -> None:
    fields = admission_wait_fields("t", 0.3)
    buckets = {json.loads(k)[2]: v for k, v in fields.items() if "bucket" in k}
    assert set(buckets) == {str(le) for le in WAIT_BUCKETS if le >= 0.3}
    assert fields[json.dumps(["admission_wait_sum_ms", "t"])] == 300
