"""Calls made in the SDKs' streaming mode and assembled into one reply, so that the first
byte is visible (``on_first_byte``) and a time-to-first-byte deadline can be kept
(``workers.deadlines``). The caller still gets one complete answer.

OpenAI asks for ``stream_options.include_usage`` so the final chunk carries the token
counts; Anthropic reports input tokens in ``message_start`` and output tokens in
``message_delta``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import openai

from workers.providers.base import ProviderReply

_STOP_REASONS = {"max_tokens": "length", "end_turn": "stop", "stop_sequence": "stop"}


async def openai_streamed(
    client: openai.AsyncOpenAI, params: dict[str, Any], on_first_byte: Callable[[], None]
) -> ProviderReply:
    stream = await client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True})
    parts: list[str] = []
    finish = "stop"
    upstream = params["model"]
    prompt = completion = cached = 0
    first = True
    async with stream:
        async for chunk in stream:
            if first:
                on_first_byte()
                first = False
            upstream = chunk.model or upstream
            for choice in chunk.choices:
                if choice.delta is not None and choice.delta.content:
                    parts.append(choice.delta.content)
                if choice.finish_reason:
                    finish = choice.finish_reason
            if chunk.usage is not None:
                prompt, completion = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
                details = chunk.usage.prompt_tokens_details
                cached = (details.cached_tokens or 0) if details else 0
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
    first = True
    async with stream:
        async for event in stream:
            if first:
                on_first_byte()
                first = False
            if event.type == "message_start":
                upstream = event.message.model
                prompt = event.message.usage.input_tokens
                cached = event.message.usage.cache_read_input_tokens or 0
            elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                parts.append(event.delta.text)
            elif event.type == "message_delta":
                stop = event.delta.stop_reason or stop
                completion = event.usage.output_tokens
    return ProviderReply(
        text="".join(parts),
        finish_reason=_STOP_REASONS.get(stop, "stop"),  # type: ignore[arg-type]
        input_tokens=prompt,
        output_tokens=completion,
        cached_tokens=cached,
        upstream_model=upstream,
    )
