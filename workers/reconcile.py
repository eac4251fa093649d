"""Budget reconciliation: do the real-time spend counters agree with the ledger?

The counters and the usage stream move together (finish.lua bumps one and appends to
the other atomically), so at the stream's last id ``L`` the counters hold exactly the
spend of every entry up to ``L``. Once the sink has written all of those (they leave the
stream when written), the ledger's rows up to ``L`` must sum to the same figures; any
difference is drift, reported per team and feature.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from broker import keys
from broker.budgets.counters import from_nano, parse_scope
from broker.ledger.layout import StreamId, format_stream_id, parse_stream_id
from broker.ledger.reports import ledger_spend
from broker.ledger.storage import LedgerStorage

log = logging.getLogger("llm_broker.budgets")
TOLERANCE_USD = 1e-6


def drift(
    counters: dict[tuple[str, str | None], float], ledger: dict[tuple[str, str | None], float]
) -> list[dict[str, Any]]:
    """Per scope: counter, ledger and their difference (pure)."""
    rows = []
    for team, feature in sorted(set(counters) | set(ledger), key=lambda s: (s[0], s[1] or "")):
        counted, booked = counters.get((team, feature), 0.0), ledger.get((team, feature), 0.0)
        rows.append(
            {
                "team": team,
                "feature": feature,
                "counter_usd": round(counted, 9),
                "ledger_usd": round(booked, 9),
                "drift_usd": round(counted - booked, 9),
            }
        )
    return rows


async def counters_at(redis: Redis, month: str) -> tuple[dict[tuple[str, str | None], float], StreamId]:
    """The month's counters and the usage stream's last id, read in one atomic step."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(keys.spend(month))
        pipe.xinfo_stream(keys.USAGE_STREAM)
        try:
            raw, info = await pipe.execute()
        except ResponseError:  # no stream yet: nothing was ever spent
            return {}, (0, 0)
    counters = {parse_scope(k.decode() if isinstance(k, bytes) else k): from_nano(v) for k, v in raw.items()}
    return counters, parse_stream_id(info["last-generated-id"])


async def written_up_to(redis: Redis, upto: StreamId, timeout_s: float) -> bool:
    """Wait until no stream entry at or below ``upto`` is left (the sink wrote them all)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = await redis.xrange(keys.USAGE_STREAM, "-", format_stream_id(upto), count=1)
        if not left:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


async def reconcile(redis: Redis, storage: LedgerStorage, month: str, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """Drift per scope for ``month``, stored for the dashboard and /metrics and logged.
    Returns an empty list (and logs why) when the sink is too far behind to compare."""
    counters, upto = await counters_at(redis, month)
    if not await written_up_to(redis, upto, timeout_s):
        log.warning("reconciliation of %s skipped: the usage sink has not written up to %s", month, upto)
        return []
    booked = await asyncio.to_thread(ledger_spend, storage, month, upto)
    rows = drift(counters, booked)
    now = time.time()
    if rows:
        mapping: dict[Any, Any] = {
            json.dumps([r["team"], r["feature"]]): json.dumps({**r, "month": month, "checked_at": now}) for r in rows
        }
        await redis.hset(keys.BUDGET_DRIFT, mapping=mapping)
    off = [r for r in rows if abs(r["drift_usd"]) > TOLERANCE_USD]
    for r in off:
        log.warning(
            "budget drift %s%s in %s: counters $%.6f, ledger $%.6f (drift $%.6f)",
            r["team"],
            "/" + r["feature"] if r["feature"] else "",
            month,
            r["counter_usd"],
            r["ledger_usd"],
            r["drift_usd"],
        )
    if not off:
        log.info("budget counters of %s agree with the ledger (%d scopes, up to %s)", month, len(rows), upto)
    return rows
