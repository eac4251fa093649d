"""Pure decisions of the skeleton: routing, token counting, pricing, ordering, batching, records."""

from __future__ import annotations

import pytest

from broker.errors import InvalidRequest
from broker.jobstore.records import new_job_id, queue_score
from broker.pricing import cost_usd
from broker.routing import candidate_models
from broker.scheduler.dispatch import batches
from broker.scheduler.order import round_robin
from broker.settings import load_config, sample_config_path
from broker.submit import check_fits_context
from broker.tokens import count_chat_tokens, count_input_tokens
from schemas.chat import ChatMessage, JobRequest
from schemas.config import Price
from scripts.simulator.tokens import count_chat_tokens as simulator_count
from workers.providers.anthropic_adapter import anthropic_params
from workers.providers.base import is_retryable_status, parse_retry_after

CONFIG = load_config(sample_config_path())
HI = [{"role": "user", "content": "hi"}]


def request(**fields: object) -> JobRequest:
    return JobRequest.model_validate({"messages": HI, **fields})


def test_named_model_then_its_fallbacks() -> None:
    assert candidate_models(request(model="gpt-4o"), CONFIG) == ["gpt-4o", "claude-sonnet"]


def test_tier_uses_the_configured_order_auto_is_classified_and_none_is_the_default_tier() -> None:
    assert candidate_models(request(tier="simple"), CONFIG) == CONFIG.tiers["simple"]
    assert candidate_models(request(tier="auto"), CONFIG) == CONFIG.tiers["simple"]  # "hi" is a simple prompt
    proof = [{"role": "user", "content": "Prove that there are infinitely many primes."}]
    assert candidate_models(request(tier="auto", messages=proof), CONFIG) == CONFIG.tiers["complex"]
    assert candidate_models(request(), CONFIG) == CONFIG.tiers[CONFIG.default_tier]


def test_unknown_model_is_a_422_on_model() -> None:
    with pytest.raises(InvalidRequest) as caught:
        candidate_models(request(model="gpt-9"), CONFIG)
    assert caught.value.param == "model"


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "What is a token bucket?"}],
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi", "name": "ann"}],
        [{"role": "user", "content": [{"type": "text", "text": "multi"}, {"type": "text", "text": " part"}]}],
    ],
)
def test_openai_count_matches_the_providers_formula(messages: list[dict]) -> None:
    parsed = [ChatMessage.model_validate(m) for m in messages]
    assert count_chat_tokens(parsed, "o200k_base") == simulator_count(messages, "o200k_base")


def test_estimate_is_generous() -> None:
    parsed = [ChatMessage.model_validate(m) for m in HI]
    assert count_input_tokens(parsed, "estimate") >= count_input_tokens(parsed, "cl100k_base")


def test_cost_uses_cached_rate_for_cached_tokens() -> None:
    price = Price(input=2.5, output=10, cached_input=1.25)
    assert cost_usd(price, 1_000_000, 0) == 2.5
    assert cost_usd(price, 1_000_000, 1_000_000, cached_tokens=1_000_000) == 11.25
    assert cost_usd(Price(input=1, output=1), 100, 0, cached_tokens=50) == 0.0001


def test_round_robin_rotates() -> None:
    assert round_robin(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert round_robin(["a", "b", "c"], 4) == ["b", "c", "a"]
    assert round_robin([], 3) == []


def test_batches_group_by_provider_and_cap_size() -> None:
    admitted = [("openai", (f"j{i}", 1)) for i in range(5)] + [("anthropic", ("k", 2))]
    assert batches(admitted, 2) == [
        ("openai", [("j0", 1), ("j1", 1)]),
        ("openai", [("j2", 1), ("j3", 1)]),
        ("openai", [("j4", 1)]),
        ("anthropic", [("k", 2)]),
    ]


def test_queue_score_orders_priority_then_age() -> None:
    assert queue_score(5, 2000.0) < queue_score(0, 1000.0) < queue_score(0, 1000.5) < queue_score(-1, 0.0)


def test_job_ids_sort_by_creation() -> None:
    assert new_job_id(1000.0) < new_job_id(1000.002)


def test_context_window_is_enforced_at_submit() -> None:
    check_fits_context(100, 28, "m", 128)
    with pytest.raises(InvalidRequest, match="context window"):
        check_fits_context(100, 29, "m", 128)


def test_anthropic_mapping_moves_system_and_merges_turns() -> None:
    req = request(
        messages=[
            {"role": "system", "content": "S"},
            {"role": "user", "content": "a"},
            {"role": "tool", "content": "b"},
            {"role": "assistant", "content": "c"},
        ],
        temperature=1.7,
        stop="END",
    )
    params = anthropic_params(req, CONFIG.models["claude-3-5-haiku"])
    assert params["system"] == "S"
    assert params["messages"] == [{"role": "user", "content": "a\n\nb"}, {"role": "assistant", "content": "c"}]
    assert params["extra_body"] == {"temperature": 1.0}
    assert params["stop_sequences"] == ["END"]
    assert params["max_tokens"] == CONFIG.models["claude-3-5-haiku"].default_max_tokens


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (503, True), (400, False), (404, False)])
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
