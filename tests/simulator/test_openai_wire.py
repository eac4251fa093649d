"""The official openai SDK, sync and async, against the simulator over real HTTP."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from scripts.simulator.tokens import CL100K, O200K, count_chat_tokens, count_text

pytestmark = pytest.mark.integration

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say this is a test!"},
]


def client(sim, provider: str = "openai", **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.openai_base_url(provider), api_key="sk-test", max_retries=0, **kwargs)


def test_non_streaming_completion_parses(sim):
    response = client(sim).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert response.object == "chat.completion"
    assert response.id.startswith("chatcmpl-")
    assert response.model == "gpt-4o-mini"
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert response.usage is not None
    assert response.usage.completion_tokens == 24
    assert response.usage.total_tokens == response.usage.prompt_tokens + 24
    assert response.usage.prompt_tokens_details.cached_tokens == 0


def test_usage_is_exact(sim):
    messages = [*MESSAGES, {"role": "user", "name": "alice", "content": "And more, please."}]
    response = client(sim).chat.completions.create(model="gpt-4o-mini", messages=messages)

    text = response.choices[0].message.content
    assert response.usage.completion_tokens == count_text(text, O200K)
    assert response.usage.prompt_tokens == count_chat_tokens(messages, O200K)


def test_documented_prompt_count():
    # OpenAI's API reference example: this single message is billed as 13 prompt tokens.
    assert count_chat_tokens([{"role": "user", "content": "Say this is a test!"}], O200K) == 13


def test_gpt35_prompt_counted_in_cl100k(sim):
    response = client(sim).chat.completions.create(model="gpt-3.5-turbo", messages=MESSAGES)

    assert response.usage.prompt_tokens == count_chat_tokens(MESSAGES, CL100K)
    assert response.usage.completion_tokens == 12 == count_text(response.choices[0].message.content, CL100K)


def test_streaming_text_equals_non_streaming_text(sim):
    c = client(sim)
    whole = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    chunks = list(
        c.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == whole.choices[0].message.content
    finish = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert finish[-1] == "stop" and set(finish[:-1]) == {None}
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_streaming_without_include_usage_has_no_usage_chunk(sim):
    chunks = list(client(sim).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))

    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


def test_max_tokens_caps_output_with_finish_reason_length(sim):
    c = client(sim)
    capped = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
    capped_new_name = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=5)
    roomy = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=500)
    stream = list(c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5, stream=True))

    assert capped.choices[0].finish_reason == "length"
    assert capped.usage.completion_tokens == 5 == count_text(capped.choices[0].message.content, O200K)
    assert capped_new_name.choices[0].finish_reason == "length"
    assert roomy.choices[0].finish_reason == "stop"
    assert roomy.usage.completion_tokens == 24
    assert stream[-1].choices[0].finish_reason == "length"


def test_output_is_deterministic(sim):
    c = client(sim)
    first = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    again = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    other = c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Other."}])

    assert first.choices[0].message.content == again.choices[0].message.content
    assert first.choices[0].message.content != other.choices[0].message.content


def test_ranged_output_tokens_stay_in_range_and_repeat(sim):
    c = client(sim)
    counts = []
    for i in range(8):
        messages = [{"role": "user", "content": f"prompt {i}"}]
        one = c.chat.completions.create(model="ranged-a", messages=messages)
        two = c.chat.completions.create(model="ranged-a", messages=messages)
        assert one.usage.completion_tokens == two.usage.completion_tokens
        counts.append(one.usage.completion_tokens)
    assert all(5 <= count <= 50 for count in counts)
    assert len(set(counts)) > 1


def test_any_provider_name_speaks_openai(sim):
    response = client(sim, "selfhosted").chat.completions.create(model="llama-3-8b", messages=MESSAGES)

    assert response.usage.completion_tokens == 24  # the default behaviour
    assert sim.stats()["by_model"] == {"selfhosted": {"llama-3-8b": 1}}


def test_async_client_on_aiohttp(sim):
    async def run() -> tuple[str, str]:
        async with openai.AsyncOpenAI(
            base_url=sim.openai_base_url(),
            api_key="sk-test",
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(),
        ) as c:
            whole = await c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            stream = await c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
            parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
            return whole.choices[0].message.content, "".join(parts)

    whole, streamed = asyncio.run(run())
    assert whole == streamed


def test_missing_api_key_is_401(sim):
    raw = httpx.post(f"{sim.openai_base_url()}/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert raw.status_code == 401
    assert raw.json()["error"]["type"] == "invalid_request_error"
    assert set(raw.json()["error"]) == {"message", "type", "param", "code"}

    with pytest.raises(openai.AuthenticationError):  # a key, but not as a bearer token
        client(sim).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, extra_headers={"Authorization": "Basic c2stdGVzdA=="}
        )


def test_invalid_request_names_the_field(sim):
    with pytest.raises(openai.BadRequestError) as info:
        client(sim).chat.completions.create(model="gpt-4o-mini", messages=[])
    assert info.value.body["param"] == "messages"

    with pytest.raises(openai.BadRequestError) as info:
        client(sim).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=0)
    assert info.value.body["param"] == "max_tokens"


def test_models_list(sim):
    names = [model.id for model in client(sim).models.list()]

    assert "gpt-4o-mini" in names
    assert "ranged-*" not in names
