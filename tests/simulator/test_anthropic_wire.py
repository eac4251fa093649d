"""The official anthropic SDK, sync and async, against the simulator over real HTTP."""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import pytest

from scripts.simulator.tokens import O200K, count_anthropic_tokens, count_chat_tokens, count_text

pytestmark = pytest.mark.integration

SYSTEM = "You are terse."
MESSAGES = [{"role": "user", "content": "Say this is a test!"}]


def client(sim, provider: str = "anthropic") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.anthropic_base_url(provider), api_key="sk-ant-test", max_retries=0)


def test_non_streaming_message_parses(sim):
    message = client(sim).messages.create(model="claude-x", max_tokens=100, system=SYSTEM, messages=MESSAGES)

    assert message.type == "message"
    assert message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]
    text = message.content[0].text
    assert message.usage.output_tokens == 24 == count_text(text, O200K)
    assert message.usage.input_tokens == count_anthropic_tokens(SYSTEM, MESSAGES)


def test_input_tokens_differ_from_the_openai_formula(sim):
    messages = [
        {
            "role": "user",
            "content": "Summarise the quarterly report for the finance team in three bullet points.",
        },
        {"role": "assistant", "content": "Revenue grew, costs fell, margins improved."},
        {"role": "user", "content": "Now add one risk and one opportunity for the next quarter, briefly."},
    ]
    message = client(sim).messages.create(model="claude-x", max_tokens=50, system=SYSTEM, messages=messages)

    openai_estimate = count_chat_tokens([{"role": "system", "content": SYSTEM}, *messages], O200K)
    assert message.usage.input_tokens == count_anthropic_tokens(SYSTEM, messages)
    assert message.usage.input_tokens != openai_estimate


def test_system_as_text_blocks(sim):
    blocks = [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Answer in English."}]
    message = client(sim).messages.create(model="claude-x", max_tokens=100, system=blocks, messages=MESSAGES)

    assert message.usage.input_tokens == count_anthropic_tokens(blocks, MESSAGES)


def test_stream_helper_text_equals_non_streamed(sim):
    c = client(sim)
    whole = c.messages.create(model="claude-x", max_tokens=100, system=SYSTEM, messages=MESSAGES)
    with c.messages.stream(model="claude-x", max_tokens=100, system=SYSTEM, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == whole.content[0].text == final.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.usage.input_tokens == whole.usage.input_tokens


def test_raw_event_sequence(sim):
    events = list(client(sim).messages.create(model="claude-x", max_tokens=3, messages=MESSAGES, stream=True))

    assert [event.type for event in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]  # the SDK swallows "ping"
    assert events[0].message.usage.input_tokens == count_anthropic_tokens(None, MESSAGES)
    assert events[-2].delta.stop_reason == "max_tokens"
    assert events[-2].usage.output_tokens == 3


def test_ping_is_on_the_wire(sim):
    body = {"model": "claude-x", "max_tokens": 2, "messages": MESSAGES, "stream": True}
    raw = httpx.post(f"{sim.anthropic_base_url()}/v1/messages", json=body, headers={"x-api-key": "k"})

    names = [line.removeprefix("event: ") for line in raw.text.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert raw.headers["content-type"].startswith("text/event-stream")


def test_max_tokens_cap(sim):
    message = client(sim).messages.create(model="claude-x", max_tokens=4, messages=MESSAGES)

    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 4 == count_text(message.content[0].text, O200K)


def test_async_client(sim):
    async def run() -> tuple[str, str]:
        async with anthropic.AsyncAnthropic(
            base_url=sim.anthropic_base_url(),
            api_key="sk-ant-test",
            max_retries=0,
            http_client=anthropic.DefaultAioHttpClient(),
        ) as c:
            whole = await c.messages.create(model="claude-x", max_tokens=100, messages=MESSAGES)
            async with c.messages.stream(model="claude-x", max_tokens=100, messages=MESSAGES) as stream:
                streamed = "".join([text async for text in stream.text_stream])
            return whole.content[0].text, streamed

    whole, streamed = asyncio.run(run())
    assert whole == streamed


def test_max_tokens_is_required(sim):
    raw = httpx.post(
        f"{sim.anthropic_base_url()}/v1/messages",
        json={"model": "claude-x", "messages": MESSAGES},
        headers={"x-api-key": "k"},
    )

    assert raw.status_code == 400
    assert raw.json()["type"] == "error"
    assert raw.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in raw.json()["error"]["message"]


def test_missing_api_key_is_401(sim):
    raw = httpx.post(
        f"{sim.anthropic_base_url()}/v1/messages", json={"model": "m", "max_tokens": 5, "messages": MESSAGES}
    )

    assert raw.status_code == 401
    assert raw.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "x-api-key header is required"},
    }
