"""Fallback by requeue against the simulated providers' fault injection, end to end.

One broker for the module (every provider's worker); each test installs its own fault
rules through the simulator's control API and starts from healthy models.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from broker import keys
from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration

CONFIG = broker_config(
    health={"failure_threshold": 3, "open_s": 60},
    models={
        "gpt-4o-mini": {"ttfb_timeout_s": 1.0},
        "gpt-4o": {"total_timeout_s": 1.5},
        # a model with no fallback: what a rate limit does to a job's last candidate
        "solo-mini": {
            "provider": "openai",
            "upstream": "gpt-4o-mini",
            "tier": "simple",
            "price": {"input": 0.15, "output": 0.60},
            "tokenizer": "o200k_base",
        },
    },
)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    stack = start_broker(tmp_path_factory.mktemp("fallback"), CONFIG)
    try:
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
def healthy(broker: BrokerUnderTest) -> Iterator[None]:
    faults([], broker)
    for model in broker.config.models:
        broker.redis.delete(keys.health(model))
    httpx.post(f"{broker.stack.simulator_url}/_sim/reset")
    yield
    faults([], broker)


def faults(rules: list[dict[str, Any]], broker: BrokerUnderTest) -> None:
    response = httpx.put(f"{broker.stack.simulator_url}/_sim/faults", json=rules)
    assert response.status_code == 200, response.text


def sim_stats(broker: BrokerUnderTest) -> dict[str, Any]:
    return httpx.get(f"{broker.stack.simulator_url}/_sim/stats").json()


def submit(broker: BrokerUnderTest, headers: dict[str, str], body: dict[str, Any]) -> str:
    response = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers, timeout=30)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def wait_final(broker: BrokerUnderTest, headers: dict[str, str], job_id: str, within_s: float = 60) -> dict[str, Any]:
    job = httpx.get(
        f"{broker.api_url}/v1/jobs/{job_id}", params={"wait": within_s}, headers=headers, timeout=within_s + 30
    ).json()
    assert job["state"] in ("succeeded", "failed"), job
    return job


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_openai_503_falls_back_to_anthropic_with_both_attempts_until_the_circuit_opens(
    broker: BrokerUnderTest,
) -> None:
    headers = broker.headers("alpha")
    faults([{"provider": "openai", "kind": "503"}], broker)
    for n in range(3):  # failure_threshold: 3
        job = wait_final(broker, headers, submit(broker, headers, {"model": "gpt-4o-mini", "messages": chat(f"q{n}")}))
        assert job["state"] == "succeeded", job
        attempts = job["attempts"]
        assert [(a["provider"], a["model"], a["outcome"]) for a in attempts] == [
            ("openai", "gpt-4o-mini", "retryable"),
            ("anthropic", "claude-3-5-haiku", "succeeded"),
        ]
        assert attempts[0]["status_code"] == 503 and "503" in attempts[0]["error"]
        assert attempts[0]["latency_ms"] is not None and attempts[1]["latency_ms"] is not None
        assert job["result"]["model"] == "claude-3-5-haiku"
    # the circuit is open now: a new job goes to the healthy fallback first, OpenAI is not called
    job = wait_final(broker, headers, submit(broker, headers, {"model": "gpt-4o-mini", "messages": chat("q3")}))
    assert job["state"] == "succeeded"
    assert job["candidates"] == ["claude-3-5-haiku", "gpt-4o-mini"]
    assert [a["model"] for a in job["attempts"]] == ["claude-3-5-haiku"]
    assert sim_stats(broker)["by_provider_status"]["openai"] == {"503": 3}
    deadline = time.monotonic() + 10
    while True:  # the API's snapshot is cached for snapshot_ttl_s
        seen = httpx.get(f"{broker.api_url}/v1/health/models", headers=headers).json()["data"]
        mini = next(m for m in seen if m["model"] == "gpt-4o-mini")
        if mini["circuit"] == "open" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert mini["circuit"] == "open" and mini["status"] == "open" and mini["consecutive_failures"] == 3
    assert next(m for m in seen if m["model"] == "claude-3-5-haiku")["latency_ewma_ms"] is not None


def test_429_retry_after_is_honoured_on_the_model(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    faults([{"provider": "openai", "model": "gpt-4o-mini", "kind": "429", "retry_after": 2}], broker)
    job_id = submit(broker, headers, {"model": "solo-mini", "messages": chat("rate limited once")})
    deadline = time.monotonic() + 30
    while not json.loads(broker.redis.hget(keys.job(job_id), "attempts") or b"[]"):
        assert time.monotonic() < deadline, "the first attempt never came back"
        time.sleep(0.02)
    faults([], broker)  # the provider is fine again at once; the broker must still wait 2 s
    job = wait_final(broker, headers, job_id)
    assert job["state"] == "succeeded", job
    first, second = job["attempts"]
    assert first["status_code"] == 429 and first["outcome"] == "retryable"
    assert second["started_at"] - first["finished_at"] >= 2.0, (first, second)


def test_429_on_a_model_with_a_fallback_moves_on_and_other_jobs_skip_it(broker: BrokerUnderTest) -> None:
    headers = broker.headers("beta")
    faults([{"provider": "openai", "model": "gpt-4o-mini", "kind": "429", "retry_after": 60}], broker)
    job = wait_final(broker, headers, submit(broker, headers, {"model": "gpt-4o-mini", "messages": chat("a")}))
    assert [a["model"] for a in job["attempts"]] == ["gpt-4o-mini", "claude-3-5-haiku"]
    assert job["state"] == "succeeded"
    later = wait_final(broker, headers, submit(broker, headers, {"model": "gpt-4o-mini", "messages": chat("b")}))
    assert later["candidates"][0] == "claude-3-5-haiku"  # cooling for 60 s: health routes round it
    assert [a["model"] for a in later["attempts"]] == ["claude-3-5-haiku"]
    assert sim_stats(broker)["by_provider_status"]["openai"] == {"429": 1}


def test_a_rate_limited_last_candidate_fails_only_at_the_attempt_limit(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    body = {"model": "solo-mini", "messages": chat("#sim(status=429, retry_after=0.5) always busy")}
    job = wait_final(broker, headers, submit(broker, headers, body))
    assert job["state"] == "failed"
    assert len(job["attempts"]) == 3  # attempts_per_candidate (3) x one candidate
    assert job["error"].startswith("attempt limit reached (3 of 3)")
    gaps = [b["started_at"] - a["finished_at"] for a, b in zip(job["attempts"], job["attempts"][1:], strict=False)]
    assert all(gap >= 0.5 for gap in gaps), gaps


def test_a_hung_provider_is_left_at_the_ttfb_deadline(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    faults([{"provider": "openai", "kind": "hang", "hang_s": 60}], broker)
    job = wait_final(broker, headers, submit(broker, headers, {"model": "gpt-4o-mini", "messages": chat("hello")}))
    assert job["state"] == "succeeded", job
    first, second = job["attempts"]
    assert first["error"] == "timeout: no first byte within 1 s" and first["status_code"] is None
    assert 1000 <= first["latency_ms"] < 30_000
    assert second["model"] == "claude-3-5-haiku" and second["outcome"] == "succeeded"


def test_latency_directive_meets_the_ttfb_deadline_of_one_model_and_not_the_other(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    # gpt-4o-mini waits 1 s for a first byte, claude-3-5-haiku the default 3 s: 1.6 s fits only the second
    body = {"model": "gpt-4o-mini", "messages": chat("#sim(latency=1.6) slow start")}
    job = wait_final(broker, headers, submit(broker, headers, body))
    assert [a["outcome"] for a in job["attempts"]] == ["retryable", "succeeded"]
    assert job["attempts"][0]["error"].startswith("timeout: no first byte")
    assert job["attempts"][1]["latency_ms"] >= 1600


def test_total_deadline_cuts_a_trickle(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    # 30 tokens at 10 tokens/s: the first byte at once, the whole answer only after ~3 s;
    # gpt-4o allows 1.5 s in all, its fallback claude-sonnet the provider's 120 s
    body = {"model": "gpt-4o", "messages": chat("#sim(tokens=30, tps=10) trickle"), "max_tokens": 50}
    job = wait_final(broker, headers, submit(broker, headers, body))
    assert job["state"] == "succeeded", job
    first, second = job["attempts"]
    assert first["error"] == "timeout: no complete answer within 1.5 s"
    assert second["model"] == "claude-sonnet" and second["latency_ms"] >= 2000
    assert job["usage"]["output_tokens"] == 30


def test_a_400_fails_fast_without_fallback_and_is_a_dead_letter(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    body = {"model": "gpt-4o-mini", "messages": chat("#sim(status=400) bad request")}
    job = wait_final(broker, headers, submit(broker, headers, body))
    assert job["state"] == "failed"
    assert len(job["attempts"]) == 1 and job["attempts"][0]["status_code"] == 400
    assert job["error"].startswith("400:")
    letters = httpx.get(f"{broker.api_url}/v1/dead-letters", headers=headers).json()["data"]
    assert job["id"] in [d["job_id"] for d in letters]
    assert sim_stats(broker)["by_provider_status"] == {"openai": {"400": 1}}


def test_all_down_fails_with_every_attempt_then_a_dead_letter_retry_succeeds(broker: BrokerUnderTest) -> None:
    headers = broker.headers("beta")
    faults([{"provider": "openai", "kind": "503"}, {"provider": "anthropic", "kind": "529"}, {"kind": "500"}], broker)
    job_id = submit(broker, headers, {"tier": "simple", "messages": chat("anyone there?")})
    job = wait_final(broker, headers, job_id)
    assert job["state"] == "failed"
    assert [a["model"] for a in job["attempts"]] == ["llama-3.1-8b", "gpt-4o-mini", "claude-3-5-haiku"]
    assert [a["status_code"] for a in job["attempts"]] == [500, 503, 529]
    assert [a["outcome"] for a in job["attempts"]] == ["retryable", "retryable", "failed"]
    assert job["error"].startswith("all candidates failed: #1 selfhosted/llama-3.1-8b: 500")
    assert "#3 anthropic/claude-3-5-haiku: 529" in job["error"]

    letters = httpx.get(f"{broker.api_url}/v1/dead-letters", headers=headers).json()["data"]
    mine = [d for d in letters if d["job_id"] == job_id]
    assert len(mine) == 1 and mine[0]["attempts"] == 3 and mine[0]["team"] == "beta"
    other = httpx.post(f"{broker.api_url}/v1/dead-letters/{job_id}/retry", headers=broker.headers("alpha"))
    assert other.status_code == 404  # another team's job does not exist for this caller

    faults([], broker)
    retried = httpx.post(f"{broker.api_url}/v1/dead-letters/{job_id}/retry", headers=headers)
    assert retried.status_code == 202, retried.text
    assert retried.json()["id"] == job_id and retried.json()["state"] == "queued"
    again = httpx.post(f"{broker.api_url}/v1/dead-letters/{job_id}/retry", headers=headers)
    assert again.status_code == 404  # no longer a dead letter
    job = wait_final(broker, headers, job_id)
    assert job["state"] == "succeeded", job
    assert len(job["attempts"]) == 4 and job["attempts"][-1]["outcome"] == "succeeded"
    assert [a["number"] for a in job["attempts"]] == [1, 2, 3, 4]
    letters = httpx.get(f"{broker.api_url}/v1/dead-letters", headers=headers).json()["data"]
    assert job_id not in [d["job_id"] for d in letters]


def test_admin_sees_every_teams_dead_letters_and_the_cli_retries(broker: BrokerUnderTest) -> None:
    alpha, beta = broker.headers("alpha"), broker.headers("beta")
    body = {"model": "gpt-4o-mini", "messages": chat("#sim(status=400) nope")}
    ids = [wait_final(broker, h, submit(broker, h, body))["id"] for h in (alpha, beta)]
    admin = {"Authorization": f"Bearer {broker.key('alpha', admin=True)}"}
    listed = httpx.get(f"{broker.api_url}/v1/dead-letters", headers=admin).json()["data"]
    seen = {d["job_id"]: d["team"] for d in listed}
    assert seen[ids[0]] == "alpha" and seen[ids[1]] == "beta"
    own = [d["job_id"] for d in httpx.get(f"{broker.api_url}/v1/dead-letters", headers=alpha).json()["data"]]
    assert ids[0] in own and ids[1] not in own
    forbidden = httpx.get(f"{broker.api_url}/v1/dead-letters", params={"team": "beta"}, headers=alpha)
    assert forbidden.status_code == 403

    cli = [sys.executable, "-m", "broker.cli.main", "dead-letters"]
    env = broker.stack.child_env()
    listed = subprocess.run([*cli, "list", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert ids[1] in [json.loads(line)["job_id"] for line in listed.stdout.splitlines()]
    retried = subprocess.run([*cli, "retry", ids[1]], env=env, capture_output=True, text=True, timeout=60)
    assert retried.returncode == 0, retried.stderr
    assert f"{ids[1]}: requeued for team beta" in retried.stdout
    job = wait_final(broker, beta, ids[1])
    assert job["state"] == "failed" and len(job["attempts"]) == 2  # still a 400: failed again, listed again
    missing = subprocess.run([*cli, "retry", "job_nope"], env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no dead letter" in missing.stderr
