"""Streaming from OpenAI-protocol providers: ``stream=True`` with
``stream_options={"include_usage": True}``, each text delta handed on as it arrives and the
final usage chunk read for the real token counts."""

from __future__ import annotations

from collections.abc import Callable

import openai

from schemas.chat import JobRequest
from schemas.config import ModelConfig
from workers.providers.base import ProviderError, ProviderReply, is_retryable_status, parse_retry_after
from workers.providers.openai_adapter import openai_messages


def _error(exc: openai.OpenAIError) -> ProviderError:
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(
            f"{exc.status_code}: {exc.message}",
            status=exc.status_code,
            retryable=is_retryable_status(exc.status_code),
            retry_after=parse_retry_after(exc.response.headers.get("retry-after")),
        )
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("timeout: no answer in time", status=None, retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(f"connection error: {exc.message}", status=None, retryable=True)
    return ProviderError(f"stream error: {exc}", status=None, retryable=True)


async def stream_openai(
    client: openai.AsyncOpenAI, request: JobRequest, model: ModelConfig, on_delta: Callable[[str], None]
) -> ProviderReply:
    text: list[str] = []
    finish = "stop"
    usage = None
    upstream = model.upstream
    try:
        stream = await client.chat.completions.create(  # type: ignore[call-overload]
            model=model.upstream,
            messages=openai_messages(request),  # type: ignore[arg-type]
            max_tokens=request.output_cap() or model.default_max_tokens,
            stream=True,
            stream_options={"include_usage": True},
            **request.sampling(),
        )
        async for chunk in stream:
            upstream = chunk.model or upstream
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    text.append(choice.delta.content)
                    on_delta(choice.delta.content)
                if choice.finish_reason:
                    finish = choice.finish_reason
    except openai.OpenAIError as exc:
        raise _error(exc) from exc
    cached = 0
    if usage and usage.prompt_tokens_details and usage.prompt_tokens_details.cached_tokens:
        cached = usage.prompt_tokens_details.cached_tokens
    return ProviderReply(
        text="".join(text),
        finish_reason=finish if finish in ("stop", "length") else "stop",  # type: ignore[arg-type]
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=usage.completion_tokens if usage else 0,
        cached_tokens=cached,
        upstream_model=upstream,
    )
