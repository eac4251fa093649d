"""Time-to-first-byte and total deadlines around a call (``workers.deadlines``).

The calls here are plain coroutines standing for the adapter; the wire behaviour (the
simulator's ``hang`` and ``latency``) is exercised in tests/integration/test_fallback.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from workers.deadlines import Deadlines, call_within
from workers.providers.base import ProviderError


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_an_answer_in_time_is_returned() -> None:
    async def answer(first_byte: Callable[[], None] | None) -> str:
        assert first_byte is not None
        first_byte()
        await asyncio.sleep(0)
        return "ok"

    assert run(call_within(answer, Deadlines(ttfb_s=5, total_s=10))) == "ok"


def test_no_first_byte_is_a_retryable_timeout_and_the_call_is_cancelled() -> None:
    cancelled = asyncio.Event()

    async def hang(first_byte: Callable[[], None] | None) -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    async def scenario() -> None:
        with pytest.raises(ProviderError) as caught:
            await call_within(hang, Deadlines(ttfb_s=0.05, total_s=30))
        assert caught.value.retryable and caught.value.status is None
        assert "no first byte within 0.05 s" in caught.value.message
        assert cancelled.is_set()

    run(scenario())


def test_a_first_byte_then_a_trickle_past_the_total_deadline() -> None:
    async def trickle(first_byte: Callable[[], None] | None) -> str:
        assert first_byte is not None
        first_byte()
        await asyncio.sleep(60)
        return "never"

    with pytest.raises(ProviderError) as caught:
        run(call_within(trickle, Deadlines(ttfb_s=0.05, total_s=0.1)))
    assert caught.value.retryable and "no complete answer within 0.1 s" in caught.value.message


def test_an_error_before_the_first_byte_is_the_callers_error() -> None:
    async def refused(first_byte: Callable[[], None] | None) -> str:
        raise ProviderError("503: down", status=503, retryable=True)

    with pytest.raises(ProviderError) as caught:
        run(call_within(refused, Deadlines(ttfb_s=5, total_s=10)))
    assert caught.value.status == 503


def test_without_a_ttfb_deadline_the_call_is_plain() -> None:
    seen: list[object] = []

    async def plain(first_byte: Callable[[], None] | None) -> str:
        seen.append(first_byte)
        await asyncio.sleep(60)
        return "never"

    with pytest.raises(ProviderError) as caught:
        run(call_within(plain, Deadlines(ttfb_s=None, total_s=0.05)))
    assert seen == [None] and "no complete answer" in caught.value.message
