"""Follow streamed jobs' token streams from an API process with one Redis reader.

Every follower of a job subscribes to the hub; one task XREADs all followed streams at once
(``XREAD BLOCK 100 STREAMS k1 k2 ...``), so a thousand streaming callers hold one Redis
connection, not a thousand. A follower first reads what the stream already holds (XRANGE),
skips what it has seen, and drains the rest with XRANGE once the job is final, so it never
depends on the hub's timing for completeness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from broker import keys
from broker.api.waiters import CompletionWaiters
from broker.jobstore.records import decode_hash
from broker.redis_clients import as_text
from schemas.job import FINAL_STATES, JobState

log = logging.getLogger(__name__)
BLOCK_MS = 100

Entry = tuple[str, dict[str, str]]


def entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _decode(entries: Any) -> list[Entry]:
    return [(i.decode() if isinstance(i, bytes) else i, decode_hash(f)) for i, f in entries]


class TokenHub:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._queues: dict[str, set[asyncio.Queue[Entry]]] = defaultdict(set)
        self._last: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="token-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self, job_id: str) -> asyncio.Queue[Entry]:
        key = keys.job_tokens(job_id)
        queue: asyncio.Queue[Entry] = asyncio.Queue()
        self._queues[key].add(queue)
        self._last.setdefault(key, "0-0")
        self._wake.set()
        return queue

    def unsubscribe(self, job_id: str, queue: asyncio.Queue[Entry]) -> None:
        key = keys.job_tokens(job_id)
        followers = self._queues.get(key)
        if followers is not None:
            followers.discard(queue)
            if not followers:
                del self._queues[key]
                self._last.pop(key, None)

    async def _run(self) -> None:
        while True:
            if not self._queues:
                self._wake.clear()
                await self._wake.wait()
                continue
            streams = {key: self._last[key] for key in list(self._queues)}
            try:
                answer = await self._redis.xread(streams, count=1000, block=BLOCK_MS)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("token hub read failed; retrying")
                await asyncio.sleep(0.5)
                continue
            reply: Any = answer
            for raw_key, entries in reply or []:
                key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
                decoded = _decode(entries)
                if key in self._last and decoded:
                    self._last[key] = decoded[-1][0]
                for queue in self._queues.get(key, ()):
                    for entry in decoded:
                        queue.put_nowait(entry)


@dataclass(frozen=True)
class Delta:
    attempt: int
    text: str


@dataclass(frozen=True)
class StateChange:
    state: str
    attempt: int


@dataclass(frozen=True)
class Final:
    fields: dict[str, str]


Event = Delta | StateChange | Final


async def follow(
    hub: TokenHub,
    redis: Redis,
    waiters: CompletionWaiters,
    job_id: str,
    timeout_s: float,
    state_poll_s: float | None = None,
) -> AsyncIterator[Event]:
    """A job's deltas as they arrive, its state changes (every ``state_poll_s`` if given) and
    finally its record once final; stops silently when ``timeout_s`` passes first."""
    key = keys.job_tokens(job_id)
    queue = hub.subscribe(job_id)
    seen = (0, 0)
    state = ""

    async def is_final() -> bool:
        value = as_text(await redis.hget(keys.job(job_id), "state"))
        return value is not None and JobState(value) in FINAL_STATES

    final = asyncio.create_task(waiters.wait(job_id, timeout_s, is_final))
    try:
        backlog = _decode(await redis.xrange(key, "-", "+"))
        pending: list[Entry] = list(backlog)
        while True:
            for entry_id, fields in pending:
                if entry_key(entry_id) <= seen:
                    continue
                seen = entry_key(entry_id)
                if "d" in fields:
                    yield Delta(int(fields.get("a") or 0), fields["d"])
            pending = []
            if final.done():
                for _, fields in _decode(await redis.xrange(key, f"({seen[0]}-{seen[1]}", "+")):
                    if "d" in fields:
                        yield Delta(int(fields.get("a") or 0), fields["d"])
                record = decode_hash(await redis.hgetall(keys.job(job_id)))
                if final.result() and record:
                    yield Final(record)
                return
            if state_poll_s is not None:
                row: Any = await redis.hmget(keys.job(job_id), "state", "attempt")
                current = as_text(row[0]) or ""
                if current and current != state:
                    state = current
                    yield StateChange(current, int(row[1] or 0))
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, final}, timeout=state_poll_s, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                pending.append(getter.result())
                while not queue.empty():
                    pending.append(queue.get_nowait())
            else:
                getter.cancel()
    finally:
        hub.unsubscribe(job_id, queue)
        if not final.done():
            final.cancel()
