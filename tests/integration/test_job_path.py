"""A job's whole path over HTTP on real Redis, Celery workers and the simulated providers."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import BrokerUnderTest

pytestmark = pytest.mark.integration
WAIT = {"Prefer": "wait=30"}


def submit(broker: BrokerUnderTest, team: str, body: dict, wait: bool = True) -> httpx.Response:
    headers = {**broker.headers(team), **(WAIT if wait else {})}
    return httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers, timeout=60)


def test_job_succeeds_with_the_providers_answer(broker: BrokerUnderTest) -> None:
    messages = [{"role": "user", "content": "What is a token bucket?"}]
    response = submit(broker, "alpha", {"model": "gpt-4o-mini", "messages": messages, "max_tokens": 40})
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["state"] == "succeeded"
    assert job["team"] == "alpha"
    assert [a["outcome"] for a in job["attempts"]] == ["succeeded"]

    provider = broker.config.providers["openai"]
    direct = openai.OpenAI(api_key="sk-test", base_url=provider.base_url, max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=messages, max_tokens=40
    )
    assert job["result"]["choices"][0]["message"]["content"] == direct.choices[0].message.content
    assert job["result"]["usage"]["prompt_tokens"] == direct.usage.prompt_tokens == job["input_tokens"]
    assert job["usage"]["output_tokens"] == direct.usage.completion_tokens
    assert job["usage"]["cost_usd"] == pytest.approx(
        (direct.usage.prompt_tokens * 0.15 + direct.usage.completion_tokens * 0.60) / 1e6
    )


def test_anthropic_routed_job_returns_the_openai_shape(broker: BrokerUnderTest) -> None:
    body = {
        "model": "claude-3-5-haiku",
        "messages": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Hello"}],
        "max_tokens": 64,
        "temperature": 0.7,
        "top_p": 0.9,
    }
    job = submit(broker, "alpha", body).json()
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert result["object"] == "chat.completion"
    assert result["choices"][0]["message"]["role"] == "assistant"
    assert result["choices"][0]["finish_reason"] in ("stop", "length")
    assert result["usage"]["total_tokens"] == result["usage"]["prompt_tokens"] + result["usage"]["completion_tokens"]
    assert job["attempts"][0]["provider"] == "anthropic"
    # Anthropic counts its own tokens: the broker's estimate is reconciled to the provider's count
    assert result["usage"]["prompt_tokens"] == job["usage"]["input_tokens"]


def test_job_without_wait_is_accepted_then_readable(broker: BrokerUnderTest) -> None:
    headers = broker.headers("beta")
    response = httpx.post(
        f"{broker.api_url}/v1/jobs",
        json={"tier": "simple", "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
    )
    assert response.status_code == 202
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"
    job_id = response.json()["id"]
    done = httpx.get(f"{broker.api_url}/v1/jobs/{job_id}", params={"wait": 30}, headers=headers, timeout=60).json()
    assert done["state"] == "succeeded"
    assert done["candidates"] == broker.config.tiers["simple"]


def test_another_teams_key_gets_404(broker: BrokerUnderTest) -> None:
    job = submit(broker, "alpha", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}).json()
    for method in ("GET", "DELETE"):
        response = httpx.request(method, f"{broker.api_url}/v1/jobs/{job['id']}", headers=broker.headers("beta"))
        assert response.status_code == 404, response.text
        assert response.json()["error"]["type"] == "not_found_error"


def test_malformed_body_gets_422_naming_the_field_and_stores_nothing(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    before = broker.redis_keys()
    cases = {
        "messages[0].role": {"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "hi"}]},
        "messages": {"model": "gpt-4o-mini"},
        "max_tokens": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
        "model": {"model": "gpt-5-ultra", "messages": [{"role": "user", "content": "hi"}]},
        "max_token": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_token": 5},
    }
    for field, body in cases.items():
        response = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["error"]["param"] == field, response.json()
        assert field.split("[")[0] in response.json()["error"]["message"]
    broker.assert_no_state_change(before)


def test_wrong_or_missing_key_gets_401(broker: BrokerUnderTest) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    wrong = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers={"Authorization": "Bearer lb-nope"})
    missing = httpx.post(f"{broker.api_url}/v1/jobs", json=body)
    assert wrong.status_code == missing.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"


def test_cancel_a_queued_job_and_not_a_finished_one(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "#sim(latency=1.5) slow one"}]}
    done = submit(broker, "alpha", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "y"}]}).json()
    conflict = httpx.delete(f"{broker.api_url}/v1/jobs/{done['id']}", headers=headers)
    assert conflict.status_code == 409
    # a job still waiting in its queue: stop the scheduler from seeing it by cancelling at once
    job = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers).json()
    response = httpx.delete(f"{broker.api_url}/v1/jobs/{job['id']}", headers=headers)
    if response.status_code == 200:
        assert response.json()["state"] == "cancelled"
    else:  # the scheduler and a worker were faster than the cancel: it is running
        assert response.status_code == 409 and "running" in response.json()["error"]["message"]


def test_idempotency_key_returns_the_first_job(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "once"}], "idempotency_key": "k-1"}
    first = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers)
    second = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers)
    assert first.status_code == 202 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]


def test_healthz(broker: BrokerUnderTest) -> None:
    assert httpx.get(f"{broker.api_url}/healthz").json() == {"status": "ok", "redis": "ok"}
