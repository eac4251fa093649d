"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, TGI) through the official SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import openai

from schemas.chat import JobRequest
from schemas.config import ModelConfig
from workers.providers.base import ProviderReply, sdk_errors
from workers.providers.streamed import openai_streamed


def openai_messages(request: JobRequest) -> list[dict[str, Any]]:
    return [m.model_dump(exclude_none=True) for m in request.chat()]


class OpenAIAdapter:
    def __init__(self, api_key: str, base_url: str | None, timeout_s: float, max_connections: int) -> None:
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,  # the broker retries by requeueing, under admission
            timeout=timeout_s,
            http_client=openai.DefaultAioHttpClient(limits=limits, timeout=timeout_s),
        )

    async def complete(
        self,
        request: JobRequest,
        model: ModelConfig,
        on_first_byte: Callable[[], None] | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> ProviderReply:
        """One answer. With ``on_first_byte`` or ``on_delta`` the call streams, reporting its
        first byte and handing on each piece of text as it arrives."""
        params: dict[str, Any] = {
            "model": model.upstream,
            "messages": openai_messages(request),
            "max_tokens": request.output_cap() or model.default_max_tokens,
            **request.sampling(),
        }
        with sdk_errors(openai):
            if on_first_byte is not None or on_delta is not None:
                return await openai_streamed(self._client, params, on_first_byte, on_delta)
            completion = await self._client.chat.completions.create(**params)
        choice = completion.choices[0]
        usage = completion.usage
        cached = 0
        if usage and usage.prompt_tokens_details and usage.prompt_tokens_details.cached_tokens:
            cached = usage.prompt_tokens_details.cached_tokens
        return ProviderReply(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason if choice.finish_reason in ("stop", "length") else "stop",
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=cached,
            upstream_model=completion.model,
        )

    async def close(self) -> None:
        await self._client.close()
