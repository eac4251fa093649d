"""The monitor process: budget upkeep that no request path should wait for.

* delivers queued budget alerts (``workers.alerts``),
* sweeps every budget each ``sweep_interval_s``: fires thresholds a crashed worker did
  not get to, publishes states (a month rollover or a raised budget unblocks teams),
* reconciles the spend counters with the ledger each ``reconcile_interval_s``.

Every step is idempotent, so running two monitors is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from broker.budgets.counters import month_of
from broker.budgets.store import BudgetStore
from broker.ledger.storage import LedgerStorage
from broker.redis_clients import async_client
from schemas.config import BrokerConfig
from workers.alerts import AlertSender
from workers.reconcile import reconcile

log = logging.getLogger("llm_broker.monitor")


async def sweep(budgets: BudgetStore) -> int:
    now = time.time()
    return await budgets.settle(await budgets.all_states(now), now)


async def run_monitor(config: BrokerConfig, storage: LedgerStorage, stop: asyncio.Event) -> None:
    redis = async_client(config, max_connections=16)
    budgets = BudgetStore(redis, config)
    sender = AlertSender(redis, config.alerts)
    await sender.setup()

    async def every(interval_s: float, name: str, step: Callable[[], Awaitable[object]]) -> None:
        while not stop.is_set():
            try:
                await step()
            except Exception:
                log.exception("monitor step %s failed", name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    async def deliver() -> None:
        while not stop.is_set():
            try:
                await sender.step(block_ms=500)
            except Exception:
                log.exception("alert delivery failed")
                await asyncio.sleep(1.0)

    tasks = [
        asyncio.create_task(deliver()),
        asyncio.create_task(every(config.alerts.sweep_interval_s, "sweep", lambda: sweep(budgets))),
        asyncio.create_task(
            every(
                config.alerts.reconcile_interval_s,
                "reconcile",
                lambda: reconcile(redis, storage, month_of(time.time())),
            )
        ),
    ]
    log.info("monitor running: alerts, budget sweeps, reconciliation")
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await sender.close()
    await redis.aclose()
