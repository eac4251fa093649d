"""Per-model deadlines on a provider call: time to first byte, and total.

A hung provider (connection open, nothing sent) is found in ``ttfb_timeout_s`` (default
3 s) instead of the SDK's one long timeout; a slow trickle is cut at ``total_timeout_s``
(default: the provider's ``timeout_s``). Either ends the call with a retryable
``ProviderError``, so the job falls back to its next candidate. Seeing the first byte
needs the call in the SDK's streaming mode (``on_first_byte``), which the adapters
assemble into one reply; a model with ``ttfb_timeout_s: null`` is called plainly under
the total deadline only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from schemas.config import ModelConfig, ProviderConfig
from workers.providers.base import ProviderError

T = TypeVar("T")
StartCall = Callable[[Callable[[], None] | None], Awaitable[T]]


@dataclass(frozen=True)
class Deadlines:
    ttfb_s: float | None
    total_s: float


def deadlines_for(model: ModelConfig, provider: ProviderConfig) -> Deadlines:
    return Deadlines(model.ttfb_timeout_s, model.total_timeout_s or provider.timeout_s)


def _timeout(message: str) -> ProviderError:
    return ProviderError(f"timeout: {message}", status=None, retryable=True)


async def call_within(start: StartCall[T], deadlines: Deadlines) -> T:
    """Run ``start(on_first_byte)`` under the deadlines; the call is cancelled (its connection
    closed) when one passes."""
    if deadlines.ttfb_s is None or deadlines.ttfb_s >= deadlines.total_s:
        try:
            return await asyncio.wait_for(start(None), deadlines.total_s)
        except TimeoutError:
            raise _timeout(f"no complete answer within {deadlines.total_s:g} s") from None
    loop = asyncio.get_running_loop()
    began = loop.time()
    first_byte = asyncio.Event()
    call = asyncio.ensure_future(start(first_byte.set))
    seen = asyncio.ensure_future(first_byte.wait())
    try:
        done, _ = await asyncio.wait({call, seen}, timeout=deadlines.ttfb_s, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise _timeout(f"no first byte within {deadlines.ttfb_s:g} s")
        left = deadlines.total_s - (loop.time() - began)
        try:
            return await asyncio.wait_for(call, max(0.0, left))
        except TimeoutError:
            raise _timeout(f"no complete answer within {deadlines.total_s:g} s") from None
    finally:
        seen.cancel()
        if not call.done():
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await call
