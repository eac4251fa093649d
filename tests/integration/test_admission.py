"""Token admission on the real stack: reservations settled, released on requeue, visible,
and jobs that could never fit refused at submit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration

SLOW = 60  # tokens/min: 1 token/s of refill, so levels barely move during a test
CONFIG = broker_config(
    teams={
        "alpha": {"limits": {"input_tpm": SLOW, "input_burst": 50_000, "output_tpm": SLOW, "output_burst": 10_000}},
        "beta": {},
    },
    models={
        "gpt-4o-mini": {
            "limits": {"input_tpm": SLOW, "input_burst": 20_000, "output_tpm": SLOW, "output_burst": 8_000, "rpm": 30}
        }
    },
)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    stack = start_broker(
        tmp_path_factory.mktemp("admission"),
        config=CONFIG,
        simulator={"faults": [{"provider": "openai", "model": "gpt-4o-mini", "kind": "503", "rate": 1.0}]},
        providers=["openai", "anthropic"],
    )
    try:
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


def levels(broker: BrokerUnderTest, headers: dict[str, str]) -> dict[tuple[str, str, str], dict]:
    body = httpx.get(f"{broker.api_url}/v1/limits", headers=headers).json()
    return {(b["scope"], b["name"], b["axis"]): b for b in body["buckets"]}


def test_unused_output_tokens_are_refunded(limited: BrokerUnderTest) -> None:
    headers = limited.headers("alpha")
    body = {"model": "claude-3-5-haiku", "max_tokens": 5000, "messages": [{"role": "user", "content": "short"}]}
    job = httpx.post(f"{limited.api_url}/v1/jobs", json=body, headers={**headers, "Prefer": "wait=30"}).json()
    assert job["state"] == "succeeded", job
    used_out = job["usage"]["output_tokens"]
    used_in = job["usage"]["input_tokens"]
    assert used_out < 100  # far below max_tokens
    now = levels(limited, headers)
    out = now[("team", "alpha", "out")]
    # reserved 5000, refunded 5000 - used: the bucket is short only of what was really used
    assert 10_000 - used_out <= out["level"] <= 10_000 - used_out + 30  # + at most 30 s of 1 token/s refill
    inp = now[("team", "alpha", "in")]
    assert 50_000 - used_in <= inp["level"] <= 50_000 - used_in + 30
    assert out["capacity"] == 10_000 and out["refill_per_minute"] == SLOW


def test_a_job_requeued_to_another_provider_holds_no_reservation_at_the_first(limited: BrokerUnderTest) -> None:
    headers = limited.headers("alpha")
    body = {"model": "gpt-4o-mini", "max_tokens": 3000, "messages": [{"role": "user", "content": "fall back"}]}
    job = httpx.post(f"{limited.api_url}/v1/jobs", json=body, headers={**headers, "Prefer": "wait=30"}).json()
    assert job["state"] == "succeeded", job
    assert [(a["model"], a["outcome"]) for a in job["attempts"]] == [
        ("gpt-4o-mini", "retryable"),
        ("claude-3-5-haiku", "succeeded"),
    ]
    first = levels(limited, headers)
    assert first[("model", "gpt-4o-mini", "in")]["level"] == first[("model", "gpt-4o-mini", "in")]["capacity"]
    assert first[("model", "gpt-4o-mini", "out")]["level"] == first[("model", "gpt-4o-mini", "out")]["capacity"]
    assert first[("model", "gpt-4o-mini", "req")]["level"] == 30


def test_a_job_bigger_than_a_bucket_is_refused_at_submit_naming_the_limit(limited: BrokerUnderTest) -> None:
    headers = limited.headers("alpha")
    depth_before = httpx.get(f"{limited.api_url}/v1/limits", headers=headers).json()["queue_depth"]
    body = {"model": "claude-3-5-haiku", "max_tokens": 20_000, "messages": [{"role": "user", "content": "x"}]}
    response = httpx.post(f"{limited.api_url}/v1/jobs", json=body, headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["param"] == "max_tokens"
    assert "team alpha output tokens/min" in error["message"] and "never" in error["message"]
    assert httpx.get(f"{limited.api_url}/v1/limits", headers=headers).json()["queue_depth"] == depth_before


def test_a_model_whose_limit_is_too_small_is_skipped_for_its_fallback(limited: BrokerUnderTest) -> None:
    headers = limited.headers("beta")  # beta has no team limits; gpt-4o-mini's output burst is 8000
    body = {"model": "gpt-4o-mini", "max_tokens": 9000, "messages": [{"role": "user", "content": "big"}]}
    response = httpx.post(f"{limited.api_url}/v1/jobs", json=body, headers={**headers, "Prefer": "wait=30"})
    assert response.json()["candidates"] == ["claude-3-5-haiku"]


def test_limits_show_team_key_and_model_buckets_and_queue_depth(limited: BrokerUnderTest) -> None:
    headers = limited.headers("alpha")
    body = httpx.get(f"{limited.api_url}/v1/limits", headers=headers).json()
    scopes = {(b["scope"], b["axis"]) for b in body["buckets"]}
    assert {("team", "in"), ("team", "out"), ("model", "in"), ("model", "out"), ("model", "req")} <= scopes
    assert body["queue_depth"] == {"alpha": 0}
    assert body["team"] == "alpha"


def test_wait_for_refill_then_admit(tmp_path: Path) -> None:
    """A job that does not fit waits in its queue (not rejected) and runs once tokens refill."""
    config = broker_config(
        teams={"alpha": {"limits": {"output_tpm": 600, "output_burst": 100}}, "beta": {}},
        models={"gpt-4o-mini": {"ttfb_timeout_s": 30}},  # a slow answer, not a hang: no fallback
    )
    stack = start_broker(tmp_path, config=config, providers=["openai"])
    try:
        broker = BrokerUnderTest(stack)
        headers = broker.headers("alpha")
        body = {"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "#sim(latency=3)"}]}
        first = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers).json()
        second = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers).json()
        started = time.monotonic()
        done = httpx.get(
            f"{broker.api_url}/v1/jobs/{second['id']}", params={"wait": 60}, headers=headers, timeout=90
        ).json()
        assert done["state"] == "succeeded"
        # the first held all 100 output tokens until it finished (3 s) and refunded the unused part
        assert time.monotonic() - started >= 1.0
        first_done = httpx.get(f"{broker.api_url}/v1/jobs/{first['id']}", headers=headers).json()
        assert first_done["state"] == "succeeded"
    finally:
        stack.stop()
