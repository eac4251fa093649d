"""The batch keeper: one loop per API process that moves batches along.

It claims batches that are due from ``lb:batches:due`` (leased, so any number of keepers
can run), asks ``plan`` what to do, and does it: take over a batch whose creator died while
validating, cancel the jobs of a cancelled or expired batch that have not started, and
finalize a batch whose lines have all ended. A batch comes due when its last job ends (the
final-state hook in the job scripts), when its completion window ends, and every
``recheck_s`` while open, so a missed signal only delays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from redis.asyncio import Redis

from broker import keys
from broker.batches.expand import expand
from broker.batches.files import FileStore
from broker.batches.finalize import all_ended, finalize, sweep
from broker.batches.plan import Action, plan
from broker.batches.store import BatchStore
from broker.duequeue import DueQueue
from schemas.config import BrokerConfig

log = logging.getLogger(__name__)
LEASE_S = 120.0


class BatchKeeper:
    def __init__(self, redis: Redis, config: BrokerConfig, files: FileStore) -> None:
        self.redis = redis
        self.config = config
        self.files = files
        self.store = BatchStore(redis)
        self.due = DueQueue(redis, keys.BATCHES_DUE)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="batch-keeper")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        while True:
            try:
                claimed = await self.due.claim(20, LEASE_S)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("batch keeper could not claim work")
                claimed = []
            for batch_id in claimed:
                try:
                    await self.look(batch_id)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the lease brings the batch back later
                    log.exception("batch keeper failed on %s", batch_id)
            if not claimed:
                await asyncio.sleep(self.config.batches.keeper_interval_s)

    async def look(self, batch_id: str) -> None:
        fields = await self.store.raw(batch_id)
        if not fields:
            await self.due.done(batch_id)
            return
        step = plan(fields, time.time(), self.config.batches.recheck_s)
        if step.action is Action.FORGET:
            await self.due.done(batch_id)
        elif step.action is Action.WAIT:
            await self.due.schedule(batch_id, step.at or time.time())
        elif step.action is Action.EXPAND:
            log.warning("batch %s: its creator stopped while validating; expanding it again", batch_id)
            await self.store.set_fields(batch_id, validating_until=time.time() + self.config.batches.validating_lease_s)
            await expand(batch_id, self.config, self.redis, self.files)
            await self.due.schedule(batch_id, time.time())
        elif step.action is Action.SWEEP:
            assert step.reason is not None
            count = await sweep(self.redis, fields, step.reason)
            log.info("batch %s %s: cancelled %d jobs not yet started", batch_id, step.reason, count)
            await self.store.set_fields(batch_id, swept=step.reason)
            await self.due.schedule(batch_id, time.time())
        elif await all_ended(self.redis, fields):
            status = await finalize(self.redis, self.files, fields)
            log.info("batch %s finalized: %s", batch_id, status)
            await self.due.done(batch_id)
        else:
            await self.due.schedule(batch_id, step.at or time.time() + self.config.batches.recheck_s)
