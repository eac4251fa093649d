"""The chat-completions facade through the unmodified official ``openai`` SDK: plain and
streamed answers (equal text, usage in the last chunk, relayed while the provider streams),
tiers and ``auto``, ``/v1/models``, 429 with Retry-After, and the job events stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    config = broker_config(
        api={"max_admission_wait_s": 5},
        teams={"alpha": {"weight": 1}, "beta": {"weight": 1, "limits": {"output_tpm": 60, "output_burst": 100}}},
    )
    stack = start_broker(tmp_path_factory.mktemp("facade"), config=config)
    try:
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


def sdk(broker: BrokerUnderTest, team: str = "alpha") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{broker.api_url}/v1", api_key=broker.key(team), max_retries=0, timeout=60)


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude-3-5-haiku"])
def test_streamed_text_equals_the_plain_answer_and_usage_ends_the_stream(broker: BrokerUnderTest, model: str) -> None:
    client = sdk(broker)
    messages = [{"role": "user", "content": f"Explain fair queuing to {model} #sim(tokens=30)"}]
    plain = client.chat.completions.create(model=model, messages=messages, max_tokens=64)
    assert plain.object == "chat.completion" and plain.model == model
    assert plain.choices[0].message.content

    chunks = list(
        client.chat.completions.create(
            model=model, messages=messages, max_tokens=64, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == plain.usage.prompt_tokens
    assert all(c.id == chunks[0].id for c in chunks) and chunks[0].object == "chat.completion.chunk"

    without = list(client.chat.completions.create(model=model, messages=messages, max_tokens=64, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in without if c.choices) == text
    assert without[-1].usage is not None and without[-1].choices[0].finish_reason == "stop"


def test_tokens_arrive_while_the_provider_is_still_streaming(broker: BrokerUnderTest) -> None:
    client = sdk(broker)
    messages = [{"role": "user", "content": "Count slowly #sim(tokens=40, tps=20)"}]
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    job_id = raw.headers["x-llm-broker-job-id"]
    stream = raw.parse()
    states_at_first_text = None
    pieces = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
            if states_at_first_text is None:
                job = httpx.get(f"{broker.api_url}/v1/jobs/{job_id}", headers=broker.headers("alpha")).json()
                states_at_first_text = job["state"]
    assert states_at_first_text == "running"  # two seconds of provider stream were still to come
    assert len(pieces) > 2
    job = httpx.get(f"{broker.api_url}/v1/jobs/{job_id}", headers=broker.headers("alpha")).json()
    assert job["state"] == "succeeded" and job["result"]["choices"][0]["message"]["content"] == "".join(pieces)
    assert job["usage"]["output_tokens"] == 40


def test_tiers_and_auto_route_and_models_lists_them(broker: BrokerUnderTest) -> None:
    client = sdk(broker)
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o-mini", "claude-3-5-haiku", "simple", "standard", "complex", "auto"} <= ids
    for name in ("simple", "auto"):
        answer = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}])
        assert answer.model in broker.config.models


def test_a_provider_refusal_is_an_error_before_any_token(broker: BrokerUnderTest) -> None:
    client = sdk(broker)
    messages = [{"role": "user", "content": "#sim(status=400) no"}]
    with pytest.raises(openai.BadRequestError) as plain:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    with pytest.raises(openai.BadRequestError):
        list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))
    assert plain.value.response.headers["x-llm-broker-job-id"].startswith("job_")
    with pytest.raises(openai.UnprocessableEntityError) as bad:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "wizard", "content": "x"}])
    assert bad.value.body["param"] == "messages[0].role"


def test_429_with_retry_after_when_admission_would_wait_too_long(broker: BrokerUnderTest) -> None:
    headers = broker.headers("beta")
    # beta refills 1 output token a second from 100: one slow job takes them all, two wait behind it
    backlog = []
    for i in range(3):
        body = {
            "model": "gpt-4o-mini",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": f"#sim(latency=3) backlog {i}"}],
        }
        backlog.append(httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers).json()["id"])
    queue_before = broker.redis.zcard("lb:queue:beta")
    try:
        with pytest.raises(openai.RateLimitError) as refused:
            sdk(broker, "beta").chat.completions.create(
                model="gpt-4o-mini", max_tokens=100, messages=[{"role": "user", "content": "now please"}]
            )
        assert int(refused.value.response.headers["retry-after"]) >= 5
        assert "admission would take" in refused.value.message
        assert broker.redis.zcard("lb:queue:beta") == queue_before  # nothing was stored
    finally:
        for job_id in backlog:
            httpx.delete(f"{broker.api_url}/v1/jobs/{job_id}", headers=headers)


def test_job_events_show_states_and_tokens(broker: BrokerUnderTest) -> None:
    headers = broker.headers("alpha")
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "#sim(tokens=20, tps=20) go"}],
    }
    job_id = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers).json()["id"]
    events: list[tuple[str, dict]] = []
    with httpx.stream("GET", f"{broker.api_url}/v1/jobs/{job_id}/events", headers=headers, timeout=60) as response:
        assert response.status_code == 200
        name = ""
        for raw in response.iter_lines():
            if raw.startswith("event: "):
                name = raw[len("event: ") :]
            elif raw.startswith("data: "):
                events.append((name, json.loads(raw[len("data: ") :])))
    states = [data["state"] for name, data in events if name == "state"]
    assert "running" in states and states[-1] == "succeeded"
    tokens = "".join(data["delta"] for name, data in events if name == "token")
    name, done = events[-1]
    assert name == "done" and done["id"] == job_id
    assert tokens == done["result"]["choices"][0]["message"]["content"]
    assert httpx.get(f"{broker.api_url}/v1/jobs/{job_id}/events", headers=broker.headers("beta")).status_code == 404


def test_streaming_many_at_once(broker: BrokerUnderTest) -> None:
    import asyncio

    async def main() -> list[str]:
        client = openai.AsyncOpenAI(base_url=f"{broker.api_url}/v1", api_key=broker.key("alpha"), max_retries=0)

        async def one(i: int) -> str:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": f"many {i} #sim(tps=100)"}]
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        return await asyncio.gather(*(one(i) for i in range(50)))

    started = time.monotonic()
    texts = asyncio.run(main())
    assert all(texts) and len(set(texts)) == 50, time.monotonic() - started
