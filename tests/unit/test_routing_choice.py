"""Routing at submit: tier resolution, the classifier's explanations, health ordering, savings."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from broker.auth import Principal
from broker.classifier.embedding import vote
from broker.classifier.heuristic import classify, classify_messages, tier_for
from broker.health.breaker import ModelHealth
from broker.settings import load_config, sample_config_path
from broker.submit import prepare_job
from schemas.chat import ChatMessage, JobRequest

CONFIG = load_config(sample_config_path())
DATA = Path(__file__).resolve().parent.parent / "data" / "routing_prompts.jsonl"
WHO = Principal("search", "u", "k")


def test_the_labelled_set_is_balanced_and_split() -> None:
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    assert len(rows) >= 250
    for tier in ("simple", "standard", "complex"):
        mine = [r for r in rows if r["tier"] == tier]
        assert len(mine) >= 80
        assert 0.25 < sum(r["split"] == "test" for r in mine) / len(mine) < 0.4
    assert len({r["id"] for r in rows}) == len(rows) == len({r["prompt"] for r in rows})


@pytest.mark.parametrize(
    ("prompt", "tier"),
    [
        ("What is the capital of Australia?", "simple"),
        ("Translate 'good morning' into Spanish.", "simple"),
        ("Explain how HTTPS keeps data private between a browser and a server.", "standard"),
        ("Prove that there are infinitely many primes.", "complex"),
        (
            "Design a rate limiter for 50,000 requests per second across three regions, with the trade-offs "
            "of each algorithm and how counters are shared during a network partition.",
            "complex",
        ),
    ],
)
def test_the_heuristic_on_clear_cases(prompt: str, tier: str) -> None:
    assert classify(prompt).tier == tier


def test_a_classification_says_why() -> None:
    result = classify("Prove that there are infinitely many primes.")
    assert result.reasons["proof"] > 0
    assert result.points == pytest.approx(sum(result.reasons.values()))
    assert tier_for(result.points) == result.tier


def test_answers_already_given_are_not_read() -> None:
    messages = [
        ChatMessage(role="user", content="What is 2 + 2?"),
        ChatMessage(role="assistant", content="Design, prove and analyse the trade-offs: " * 20),
    ]
    assert classify_messages(messages).tier == "simple"


def test_knn_vote_is_weighted_by_similarity() -> None:
    assert vote([0.9, 0.2, 0.3], ["complex", "simple", "simple"], k=3) == "complex"
    assert vote([0.5, 0.45, 0.45], ["complex", "simple", "simple"], k=3) == "simple"
    assert vote([0.9, 0.1, 0.1], ["complex", "simple", "simple"], k=1) == "complex"


def job_request(**fields: object) -> JobRequest:
    return JobRequest.model_validate({"messages": [{"role": "user", "content": "hi"}], **fields})


def test_submit_orders_candidates_by_health_and_keeps_tokens_with_their_model() -> None:
    now = time.time()
    down = ModelHealth(failures=9, opened_at_ms=now * 1000, open_ms=60_000)
    job = prepare_job(job_request(tier="simple"), WHO, CONFIG, now, health={"llama-3.1-8b": down})
    assert job.candidates == ["gpt-4o-mini", "claude-3-5-haiku", "llama-3.1-8b"]
    healthy = prepare_job(job_request(tier="simple"), WHO, CONFIG, now, health={})
    by_model = dict(zip(healthy.candidates, healthy.candidate_tokens, strict=True))
    assert job.candidate_tokens == [by_model[m] for m in job.candidates]
    assert job.tier == "simple" and job.fields()["tier"] == "simple"


def test_auto_records_the_classified_tier_and_a_named_model_none() -> None:
    proof = [{"role": "user", "content": "Prove that the square root of 2 is irrational."}]
    job = prepare_job(job_request(tier="auto", messages=proof), WHO, CONFIG, time.time())
    assert job.tier == "complex" and job.candidates == CONFIG.tiers["complex"]
    named = prepare_job(job_request(model="gpt-4o-mini"), WHO, CONFIG, time.time())
    assert named.tier is None and "tier" not in named.fields()


def test_a_jobs_latency_sla_is_stored_for_the_scheduler() -> None:
    job = prepare_job(job_request(tier="simple", latency_sla_ms=800), WHO, CONFIG, time.time())
    assert job.fields()["latency_sla_ms"] == 800


def test_evaluation_scores_and_prices_a_routed_mix() -> None:
    from broker.classifier.evaluation import (
        Labelled,
        accuracy_by_tier,
        confusion,
        mix_cost_usd,
        reference_cost_usd,
        under_tiered,
        weighted_cost_pct,
    )

    rows = [Labelled("a", "simple", 1_000_000), Labelled("b", "complex", 1_000_000), Labelled("c", "standard", 0)]
    guesses = ["simple", "standard", "standard"]
    assert accuracy_by_tier(rows, guesses) == {"simple": 1.0, "standard": 1.0, "complex": 0.0, "overall": 0.6667}
    assert confusion(rows, guesses)["complex"] == {"simple": 0, "standard": 1, "complex": 0}
    assert under_tiered(rows, guesses) == 0.3333

    def no_input(prompt: str, model: str) -> int:
        return 0

    # simple -> llama-3.1-8b ($0.05/M out), standard -> claude-3-5-haiku ($4/M out); reference gpt-4o ($10/M out)
    assert mix_cost_usd(rows, guesses, CONFIG, no_input) == pytest.approx(0.05 + 4.0)
    assert reference_cost_usd(rows, CONFIG, no_input) == pytest.approx(20.0)
    two = rows[:2]
    assert weighted_cost_pct(two, ["simple", "complex"], CONFIG, no_input, {"simple": 0.5, "complex": 0.5}) == (
        pytest.approx(100 * (0.05 + 10.0) / 20.0, abs=0.01)
    )


def test_submit_keeps_the_tables_order_for_the_scheduler() -> None:
    now = time.time()
    down = ModelHealth(failures=9, opened_at_ms=now * 1000, open_ms=60_000)
    job = prepare_job(job_request(tier="simple"), WHO, CONFIG, now, health={"llama-3.1-8b": down})
    assert job.preferred == CONFIG.tiers["simple"]
    assert json.loads(str(job.fields()["preferred"])) == CONFIG.tiers["simple"]
