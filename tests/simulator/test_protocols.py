"""The hand-built byte templates are valid JSON event by event, whatever the model name."""

from __future__ import annotations

import json

import pytest

from scripts.simulator.anthropic_protocol import AnthropicProtocol
from scripts.simulator.openai_protocol import OpenAIProtocol
from scripts.simulator.protocol import ChatRequest, Completion, InvalidRequest, StreamParts

PIECES = ["Hello", " world", ".", ' "quoted"']
MODEL = 'odd "model" \\ name ✓'


def stream_bytes(parts: StreamParts, pieces: list[str]) -> str:
    events = b"".join(parts.piece_prefix + json.dumps(p).encode() + parts.piece_suffix for p in pieces)
    return (parts.head + events + parts.tail).decode()


def data_lines(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.split("\n") if line.startswith("data: ")]


@pytest.mark.parametrize("include_usage", [False, True])
def test_openai_stream_events_are_json(include_usage):
    request = ChatRequest(MODEL, [], None, stream=True, include_usage=include_usage)
    completion = Completion("chatcmpl-x", 1, PIECES, capped=True, prompt_tokens=9)
    lines = data_lines(stream_bytes(OpenAIProtocol().stream(request, completion), PIECES))

    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert {chunk["model"] for chunk in chunks} == {MODEL}
    with_choices = [chunk for chunk in chunks if chunk["choices"]]
    assert "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in with_choices) == "".join(PIECES)
    assert with_choices[-1]["choices"][0]["finish_reason"] == "length"
    if include_usage:
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"]["total_tokens"] == 9 + len(PIECES)
    else:
        assert all("usage" not in chunk for chunk in chunks)


def test_anthropic_stream_events_are_json():
    request = ChatRequest(MODEL, [], 10, stream=True)
    completion = Completion("msg_x", 1, PIECES, capped=False, prompt_tokens=9)
    text = stream_bytes(AnthropicProtocol().stream(request, completion), PIECES)

    events = [json.loads(line) for line in data_lines(text)]
    names = [line.removeprefix("event: ") for line in text.split("\n") if line.startswith("event: ")]
    assert names == [event["type"] for event in events]
    assert events[0]["message"]["model"] == MODEL
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == "".join(PIECES)
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-2]["usage"]["output_tokens"] == len(PIECES)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user"}], "max_tokens": "5"}, "max_tokens"),
    ],
)
def test_openai_parse_errors_name_the_field(body, param):
    with pytest.raises(InvalidRequest) as info:
        OpenAIProtocol().parse(body)
    assert info.value.param == param


def test_error_bodies():
    openai_429 = OpenAIProtocol().error("429", retry_after=2.5)
    assert openai_429.status == 429
    assert openai_429.headers["retry-after"] == "2.5"
    assert set(json.loads(openai_429.body)["error"]) == {"message", "type", "param", "code"}

    overloaded = AnthropicProtocol().error("529")
    assert overloaded.status == 529
    assert json.loads(overloaded.body) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded (simulated)."},
    }
