"""Anthropic's Messages API through the official SDK, mapped to and from the OpenAI shape.

System (and developer) messages become the ``system`` parameter; tool messages are sent
as user text; temperature is clamped to Anthropic's 0-1 range; ``max_tokens`` is required
there, so the model's default applies when the caller set none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx2

from schemas.chat import JobRequest
from schemas.config import ModelConfig
from workers.providers.base import ProviderReply, sdk_errors
from workers.providers.streamed import ANTHROPIC_STOP_REASONS, anthropic_streamed


def anthropic_params(request: JobRequest, model: ModelConfig) -> dict[str, Any]:
    system = "\n\n".join(m.text() for m in request.chat() if m.role in ("system", "developer"))
    messages: list[dict[str, str]] = []
    for message in request.chat():
        if message.role in ("system", "developer"):
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if messages and messages[-1]["role"] == role:  # Anthropic wants alternating turns
            messages[-1]["content"] += "\n\n" + message.text()
        else:
            messages.append({"role": role, "content": message.text()})
    params: dict[str, Any] = {
        "model": model.upstream,
        "messages": messages,
        "max_tokens": request.output_cap() or model.default_max_tokens,
    }
    if system:
        params["system"] = system
    # the SDK no longer names the sampling parameters (newer models reject them); older models
    # still take them on the wire, so they travel in the body as the API documents them
    sampling: dict[str, float] = {}
    if request.temperature is not None:
        sampling["temperature"] = min(request.temperature, 1.0)
    if request.top_p is not None:
        sampling["top_p"] = request.top_p
    if sampling:
        params["extra_body"] = sampling
    if request.stop is not None:
        params["stop_sequences"] = [request.stop] if isinstance(request.stop, str) else request.stop
    return params


class AnthropicAdapter:
    def __init__(self, api_key: str, base_url: str | None, timeout_s: float, max_connections: int) -> None:
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=timeout_s,
            http_client=anthropic.DefaultAioHttpClient(limits=limits, timeout=timeout_s),
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
        params = anthropic_params(request, model)
        with sdk_errors(anthropic):
            if on_first_byte is not None or on_delta is not None:
                return await anthropic_streamed(self._client, params, on_first_byte, on_delta)
            message = await self._client.messages.create(**params)
        text = "".join(block.text for block in message.content if block.type == "text")
        usage = message.usage
        return ProviderReply(
            text=text,
            finish_reason=ANTHROPIC_STOP_REASONS.get(message.stop_reason or "end_turn", "stop"),  # type: ignore[arg-type]
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cache_read_input_tokens or 0,
            upstream_model=message.model,
        )

    async def close(self) -> None:
        await self._client.close()
