"""Wait for jobs to finish without polling: one pub/sub subscription per API process.

Workers publish a job id on ``lb:jobs:done`` when a job reaches a final state. Each
waiter registers a future *before* reading the job's state, so a completion that lands
between the read and the wait is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from broker import keys

log = logging.getLogger(__name__)


class CompletionWaiters:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._futures: dict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(keys.JOBS_DONE_CHANNEL)
        self._task = asyncio.create_task(self._listen(), name="completion-waiters")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._pubsub.aclose()

    async def _listen(self) -> None:
        while True:
            try:
                async for message in self._pubsub.listen():
                    job_id = message["data"].decode()
                    for future in self._futures.pop(job_id, ()):
                        if not future.done():
                            future.set_result(None)
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis hiccup must not kill waiting forever: resubscribe
                log.exception("completion listener failed; resubscribing")
                await asyncio.sleep(0.5)
                # wake everyone so they re-read their job's state
                for futures in self._futures.values():
                    for future in futures:
                        if not future.done():
                            future.set_result(None)
                self._futures.clear()
                await self._pubsub.subscribe(keys.JOBS_DONE_CHANNEL)

    async def wait(self, job_id: str, timeout: float, is_final: Callable[[], Awaitable[bool]]) -> bool:
        """True once the job is final, False if ``timeout`` passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            future: asyncio.Future[None] = loop.create_future()
            self._futures[job_id].add(future)
            try:
                if await is_final():
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(future, remaining)
                except TimeoutError:
                    return await is_final()
            finally:
                waiting = self._futures.get(job_id)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._futures[job_id]
