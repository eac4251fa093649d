"""Calls made in the SDKs' streaming mode and assembled into one reply, so that the first
byte is visible (``on_first_byte``) and a time-to-first-byte deadline can be kept
(``workers.deadlines``). The caller still gets one complete answer.

The SDK makes the request and raises its usual errors for an error status; the body's
server-sent events are then read straight off the HTTP response and parsed with
``json.loads`` once the body is complete. The SDKs' own event objects (a pydantic model per token) cost ~10x the
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

_STOP_REASONS = {"max_tokens": "length", "end_turn": "stop", "stop_sequence": "stop"}


async def _events(chunks: AsyncIterator[bytes], on_first_byte: Callable[[], None]) -> list[dict[str, Any]]:
    """The JSON ``data:`` payloads of a server-sent event stream, up to ``[DONE]`` or its end.

    The body is gathered as it arrives (the first block reports the first byte) and parsed
    once it is complete: one tight loop instead of an await per line."""
    blocks: list[bytes] = []
    async for block in chunks:
        if not blocks:
            on_first_byte()
        blocks.append(block)
    events: list[dict[str, Any]] = []
    for line in b"".join(blocks).split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        event = json.loads(data)
        if isinstance(event, dict) and event.get("error"):
            error = event["error"]
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            raise ProviderError(f"stream error: {message}", status=None, retryable=True)
        events.append(event)
    return events


async def openai_streamed(
    client: openai.AsyncOpenAI, params: dict[str, Any], on_first_byte: Callable[[], None]
) -> ProviderReply:
    stream = await client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True})
    parts: list[str] = []
    finish = "stop"
    upstream = params["model"]
    prompt = completion = cached = 0
    async with stream:
        for chunk in await _events(stream.response.aiter_bytes(), on_first_byte):
            upstream = chunk.get("model") or upstream
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    parts.append(content)
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
    client: anthropic.AsyncAnthropic, params: dict[str, Any], on_first_byte: Callable[[], None]
) -> ProviderReply:
    stream = await client.messages.create(**params, stream=True)
    parts: list[str] = []
    stop = "end_turn"
    upstream = params["model"]
    prompt = completion = cached = 0
    async with stream:
        for event in await _events(stream.response.aiter_bytes(), on_first_byte):
            kind = event.get("type")
            if kind == "content_block_delta":
                delta = event.get("delta") or {}
                if delta.get("type") == "text_delta":
                    parts.append(delta.get("text", ""))
            elif kind == "message_start":
                message = event.get("message") or {}
                upstream = message.get("model") or upstream
                usage = message.get("usage") or {}
                prompt = usage.get("input_tokens", 0)
                cached = usage.get("cache_read_input_tokens") or 0
            elif kind == "message_delta":
                stop = (event.get("delta") or {}).get("stop_reason") or stop
                completion = (event.get("usage") or {}).get("output_tokens", completion)
            elif kind == "message_stop":
                break
    return ProviderReply(
        text="".join(parts),
        finish_reason=_STOP_REASONS.get(stop, "stop"),  # type: ignore[arg-type]
        input_tokens=prompt,
        output_tokens=completion,
        cached_tokens=cached,
        upstream_model=upstream,
    )
