"""Streaming from Anthropic's Messages API (``stream=True``): ``message_start`` carries the
input tokens, ``content_block_delta`` the text, ``message_delta`` the stop reason and the
output tokens."""

from __future__ import annotations

from collections.abc import Callable

import anthropic

from schemas.chat import JobRequest
from schemas.config import ModelConfig
from workers.providers.anthropic_adapter import _STOP_REASONS, anthropic_params
from workers.providers.base import ProviderError, ProviderReply, is_retryable_status, parse_retry_after


def _error(exc: anthropic.AnthropicError) -> ProviderError:
    if isinstance(exc, anthropic.APIStatusError):
        return ProviderError(
            f"{exc.status_code}: {exc.message}",
            status=exc.status_code,
            retryable=is_retryable_status(exc.status_code),
            retry_after=parse_retry_after(exc.response.headers.get("retry-after")),
        )
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderError("timeout: no answer in time", status=None, retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderError(f"connection error: {exc.message}", status=None, retryable=True)
    return ProviderError(f"stream error: {exc}", status=None, retryable=True)


async def stream_anthropic(
    client: anthropic.AsyncAnthropic, request: JobRequest, model: ModelConfig, on_delta: Callable[[str], None]
) -> ProviderReply:
    text: list[str] = []
    input_tokens = output_tokens = cached = 0
    stop_reason = "end_turn"
    upstream = model.upstream
    try:
        stream = await client.messages.create(**anthropic_params(request, model), stream=True)
        async for event in stream:
            if event.type == "message_start":
                upstream = event.message.model
                input_tokens = event.message.usage.input_tokens
                cached = event.message.usage.cache_read_input_tokens or 0
            elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                text.append(event.delta.text)
                on_delta(event.delta.text)
            elif event.type == "message_delta":
                stop_reason = event.delta.stop_reason or stop_reason
                output_tokens = event.usage.output_tokens
                if event.usage.input_tokens:
                    input_tokens = event.usage.input_tokens
    except anthropic.AnthropicError as exc:
        raise _error(exc) from exc
    return ProviderReply(
        text="".join(text),
        finish_reason=_STOP_REASONS.get(stop_reason, "stop"),  # type: ignore[arg-type]
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached,
        upstream_model=upstream,
    )
