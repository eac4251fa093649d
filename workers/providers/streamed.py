"""Calls made in the SDKs' streaming mode: the first byte is visible (``on_first_byte``, so a
time-to-first-byte deadline can be kept, ``workers.deadlines``), each piece of text can be
relayed as it arrives (``on_delta``, for callers who asked for a stream), and the caller
still gets one complete answer with the provider's token counts.

The SDK makes the request and raises its usual errors for an error status; the body's
server-sent events are then read straight off the HTTP response and parsed with
``json.loads``, a received block at a time. The SDKs' own event objects (a pydantic model per token) cost ~10x the
CPU of a plain call at 200 tokens; plain dicts keep streaming close to a plain call
(``scripts/bench_streamed_calls.py``). OpenAI is asked for ``stream_options.include_usage``
so the last chunk carries the token counts; Anthropic reports input tokens in
``message_start`` and output tokens in ``message_delta``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import openai

from workers.providers.base import ProviderError, ProviderReply

ANTHROPIC_STOP_REASONS = {"max_tokens": "length", "end_turn": "stop", "stop_sequence": "stop"}


def _parse(lines: list[bytes]) -> tuple[list[dict[str, Any]], bool]:
    """The JSON ``data:`` payloads of whole SSE lines, and whether ``[DONE]`` was among them."""
    events: list[dict[str, Any]] = []
    for line in lines:
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            return events, True
        event = json.loads(data)
        if isinstance(event, dict) and event.get("error"):
            error = event["error"]
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            raise ProviderError(f"stream error: {message}", status=None, retryable=True)
        events.append(event)
    return events, False


async def _event_batches(
    chunks: AsyncIterator[bytes], on_first_byte: Callable[[], None] | None
) -> AsyncIterator[list[dict[str, Any]]]:
    """The events of a server-sent event stream as they arrive, a received block's worth at a
    time: one await per block rather than per line, and deltas still reach the caller live."""
    pending = b""
    first = True
    done = False
    async for block in chunks:
        if first:
            first = False
            if on_first_byte is not None:
                on_first_byte()
        if done:
            continue  # read to the end, or the connection cannot go back to the pool
        lines = (pending + block).split(b"\n")
        pending = lines.pop()
        events, done = _parse(lines)
        if events:
            yield events
    if pending and not done:
        events, _ = _parse([pending])
        if events:
            yield events


async def openai_streamed(
    client: openai.AsyncOpenAI,
    params: dict[str, Any],
    on_first_byte: Callable[[], None] | None = None,
    on_delta: Callable[[str], None] | None = None,
) -> ProviderReply:
    stream = await client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True})
    parts: list[str] = []
    finish = "stop"
    upstream = params["model"]
    prompt = completion = cached = 0
    async with stream:
        async for chunks in _event_batches(stream.response.aiter_bytes(), on_first_byte):
            for chunk in chunks:
                upstream = chunk.get("model") or upstream
                for choice in chunk.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        parts.append(content)
                        if on_delta is not None:
                            on_delta(content)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                usage = chunk.get("usage")
                if usage:
                    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
                    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return ProviderReply(
        text="".join(parts),
        finish_reason=finish if finish in ("stop", "length") else "stop",  # type: ignore[arg-type]
        input_tokens=prompt,
        output_tokens=completion,
        cached_tokens=cached,
        upstream_model=upstream,
    )


async def anthropic_streamed(
    client: anthropic.AsyncAnthropic,
    params: dict[str, Any],
    on_first_byte: Callable[[], None] | None = None,
    on_delta: Callable[[str], None] | None = None,
) -> ProviderReply:
    stream = await client.messages.create(**params, stream=True)
    parts: list[str] = []
    stop = "end_turn"
    upstream = params["model"]
    prompt = completion = cached = 0
    async with stream:
        async for events in _event_batches(stream.response.aiter_bytes(), on_first_byte):
            for event in events:
                kind = event.get("type")
                if kind == "content_block_delta":
                    delta = event.get("delta") or {}
                    if delta.get("type") == "text_delta" and delta.get("text"):
                        parts.append(delta["text"])
                        if on_delta is not None:
                            on_delta(delta["text"])
                elif kind == "message_start":
                    message = event.get("message") or {}
                    upstream = message.get("model") or upstream
                    usage = message.get("usage") or {}
                    prompt = usage.get("input_tokens", 0)
                    cached = usage.get("cache_read_input_tokens") or 0
                elif kind == "message_delta":
                    stop = (event.get("delta") or {}).get("stop_reason") or stop
                    completion = (event.get("usage") or {}).get("output_tokens", completion)
    return ProviderReply(
        text="".join(parts),
        finish_reason=ANTHROPIC_STOP_REASONS.get(stop, "stop"),  # type: ignore[arg-type]
        input_tokens=prompt,
        output_tokens=completion,
        cached_tokens=cached,
        upstream_model=upstream,
    )
