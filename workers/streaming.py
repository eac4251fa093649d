"""Relaying a streamed job's text to the API while the provider streams it.

The worker appends deltas to the job's Redis stream ``lb:job:{id}:tokens`` (entries
``{a: attempt, d: text}``) and, when the provider call ends, one ``{a, e: ok|error}``
entry; API processes read it with XREAD BLOCK and turn it into SSE. Deltas that arrive
while a write is in flight are coalesced into the next write, so a fast provider costs a
few Redis calls, not one per token. The stream expires a few minutes after the call ends.

A stream that breaks after text has reached the caller cannot be retried on another
model without the caller seeing two answers, so such a failure is final; one that breaks
before the first delta falls back like any other call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis

from broker import keys
from schemas.chat import JobRequest
from schemas.config import ModelConfig
from workers.providers.base import ProviderError, ProviderReply

log = logging.getLogger(__name__)
LIVE_TTL_S = 3600  # while the call runs (a stream nobody ends still goes away)
ENDED_TTL_S = 600  # after it ended: long enough for a slow reader to catch up


class Relay(Protocol):
    def push(self, text: str) -> None: ...


class TokenRelay:
    def __init__(self, redis: Redis, job_id: str, attempt: int) -> None:
        self._redis = redis
        self._key = keys.job_tokens(job_id)
        self._attempt = str(attempt)
        self._pending: list[str] = []
        self._writer: asyncio.Task[None] | None = None
        self.pushed = 0  # characters handed to the relay

    def push(self, text: str) -> None:
        self._pending.append(text)
        self.pushed += len(text)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.xadd(self._key, {"a": self._attempt, "d": text})
                    pipe.expire(self._key, LIVE_TTL_S)
                    await pipe.execute()
            except Exception:  # the job's result is recorded at the end whatever happens here
                log.exception("could not relay tokens to %s", self._key)

    async def end(self, outcome: str) -> None:
        if self._writer is not None:
            await asyncio.shield(self._writer)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._key, {"a": self._attempt, "e": outcome})
                pipe.expire(self._key, ENDED_TTL_S)
                await pipe.execute()
        except Exception:
            log.exception("could not end the token stream %s", self._key)


async def call_provider(
    adapter: Any,
    job_id: str,
    attempt: int,
    request: JobRequest,
    model: ModelConfig,
    redis: Redis,
    on_first_byte: Callable[[], None] | None = None,
) -> ProviderReply:
    """The provider call for a job: streamed and relayed when the caller asked for a stream.
    ``on_first_byte`` (the time-to-first-byte deadline's probe) is called when the provider
    starts answering."""
    if not request.stream:
        reply: ProviderReply = await adapter.complete(request, model, on_first_byte)
        return reply
    relay = TokenRelay(redis, job_id, attempt)
    try:
        reply = await adapter.complete(request, model, on_first_byte, relay.push)
    except ProviderError as exc:
        await relay.end("error")
        if relay.pushed and exc.retryable:
            raise ProviderError(
                f"stream interrupted after {relay.pushed} characters: {exc.message}", status=exc.status, retryable=False
            ) from exc
        raise
    except BaseException:
        await relay.end("error")
        raise
    await relay.end("ok")
    return reply
