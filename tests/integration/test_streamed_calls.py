"""The adapters' streaming mode (what the TTFB deadline needs) gives the same reply as a
plain call, and the same errors, through the official SDKs against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from schemas.chat import JobRequest
from schemas.config import ModelConfig, Price
from scripts.simulator.runner import SimulatorProcess, start_simulator
from workers.providers.anthropic_adapter import AnthropicAdapter
from workers.providers.base import ProviderError
from workers.providers.openai_adapter import OpenAIAdapter

pytestmark = pytest.mark.integration
PRICE = Price(input=1, output=1)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with start_simulator({"seed": 3, "default": {"output_tokens": [5, 60]}}) as process:
        yield process


def adapters(sim: SimulatorProcess) -> list[tuple[object, ModelConfig]]:
    return [
        (
            OpenAIAdapter("sk", sim.openai_base_url(), 30, 10),
            ModelConfig(provider="openai", upstream="gpt-4o-mini", tier="simple", price=PRICE),
        ),
        (
            AnthropicAdapter("sk", sim.anthropic_base_url(), 30, 10),
            ModelConfig(provider="anthropic", upstream="claude-3-5-haiku", tier="simple", price=PRICE),
        ),
    ]


def request(text: str, **fields: object) -> JobRequest:
    return JobRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": text}], **fields})


def test_streamed_replies_equal_plain_ones(sim: SimulatorProcess) -> None:
    async def run() -> None:
        for adapter, model in adapters(sim):
            for n, extra in enumerate([{}, {"max_tokens": 7}, {"stop": "zzz"}, {}]):
                job = request(f"question {n}: tell me something", **extra)
                seen: list[int] = []
                plain = await adapter.complete(job, model)  # type: ignore[attr-defined]
                streamed = await adapter.complete(job, model, lambda seen=seen: seen.append(1))  # type: ignore[attr-defined]
                assert seen == [1]  # the first byte is reported once
                assert streamed == plain, (model.provider, n)
                assert streamed.output_tokens > 0 and streamed.input_tokens > 0
            await adapter.close()  # type: ignore[attr-defined]

    asyncio.run(run())


@pytest.mark.parametrize(
    ("directive", "status", "retryable"),
    [("#sim(status=503)", 503, True), ("#sim(status=400)", 400, False), ("#sim(status=drop)", None, True)],
)
def test_streamed_errors_are_the_plain_ones(sim: SimulatorProcess, directive: str, status: int | None, retryable: bool):
    async def run() -> None:
        for adapter, model in adapters(sim):
            with pytest.raises(ProviderError) as caught:
                await adapter.complete(request(directive), model, lambda: None)  # type: ignore[attr-defined]
            assert caught.value.status == status and caught.value.retryable is retryable
            await adapter.close()  # type: ignore[attr-defined]

    asyncio.run(run())


def test_a_streamed_429_carries_its_retry_after(sim: SimulatorProcess) -> None:
    async def run() -> None:
        for adapter, model in adapters(sim):
            with pytest.raises(ProviderError) as caught:
                await adapter.complete(request("#sim(status=429, retry_after=7)"), model, lambda: None)  # type: ignore[attr-defined]
            assert caught.value.status == 429 and caught.value.retry_after == 7
            await adapter.close()  # type: ignore[attr-defined]

    asyncio.run(run())
