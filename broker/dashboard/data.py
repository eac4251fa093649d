"""What the dashboard shows, gathered in one place: live state from Redis (budgets, alerts,
queues, provider error counters, drift) and this month's ledger (series, features, cache,
provider health). The ledger part is cached briefly: a page load must not rescan a big
ledger for every viewer."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
from redis.asyncio import Redis

from broker import keys
from broker.budgets.counters import month_of
from broker.budgets.store import BudgetStore, state_payload
from broker.ledger.storage import LedgerStorage
from broker.ledger.views import with_ledger
from schemas.config import BrokerConfig

LEDGER_CACHE_S = 10.0
_DAY = "strftime(to_timestamp(finished_at), '%Y-%m-%d')"
QUERIES = {
    "by_team_day": f"SELECT {_DAY} AS day, team, sum(cost_usd) AS cost_usd FROM usage GROUP BY ALL ORDER BY day, team",
    "by_model_day": f"SELECT {_DAY} AS day, model, sum(cost_usd) AS cost_usd FROM usage GROUP BY ALL ORDER BY day",
    "features": """SELECT team, feature, sum(cost_usd) AS cost_usd, count(*) AS jobs FROM usage
                   GROUP BY ALL ORDER BY cost_usd DESC, team, feature LIMIT 10""",
    "teams": """SELECT team, count(*) AS jobs, count(*) FILTER (WHERE state = 'failed') AS failures,
                  count(*) FILTER (WHERE cache_hit) AS cache_hits, sum(cost_usd) AS cost_usd,
                  sum(saved_usd) AS cache_saved_usd, sum(routing_saved_usd) AS routing_saved_usd,
                  sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
                FROM usage GROUP BY team ORDER BY team""",
    "providers": """SELECT coalesce(provider, '-') AS provider, coalesce(model, '-') AS model, count(*) AS jobs,
                      count(*) FILTER (WHERE state = 'failed') AS failures,
                      round(quantile_cont(latency_ms, 0.95), 1) AS p95_latency_ms
                    FROM usage WHERE finished_at >= ? GROUP BY ALL ORDER BY provider, model""",
}


@dataclass
class DashboardData:
    month: str
    generated_at: float
    budgets: list[dict[str, Any]] = field(default_factory=list)
    spend: dict[str, float] = field(default_factory=dict)  # real-time, per team, from the counters
    alerts: list[dict[str, Any]] = field(default_factory=list)
    queue_depth: dict[str, int] = field(default_factory=dict)
    provider_errors: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    ledger: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def ledger_figures(storage: LedgerStorage, month: str, now: float) -> dict[str, list[dict[str, Any]]]:
    def run(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
        found = {}
        for name, sql in QUERIES.items():
            cursor = con.execute(sql, [now - 86400] if "?" in sql else [])
            columns = [d[0] for d in cursor.description]
            found[name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return found

    return with_ledger(storage, [month], run)


class DashboardSource:
    def __init__(self, redis: Redis, config: BrokerConfig, storage: LedgerStorage) -> None:
        self.redis = redis
        self.config = config
        self.storage = storage
        self._cached: tuple[float, str, dict[str, list[dict[str, Any]]]] | None = None

    async def gather(self) -> DashboardData:
        now = time.time()
        month = month_of(now)
        budgets = BudgetStore(self.redis, self.config)
        teams = sorted(self.config.teams)
        async with self.redis.pipeline(transaction=False) as pipe:
            for team in teams:
                pipe.zcard(keys.team_queue(team))
            pipe.hgetall(keys.STATS)
            pipe.hgetall(keys.BUDGET_DRIFT)
            answers = await pipe.execute()
        depths, stats, drift = answers[: len(teams)], answers[len(teams)], answers[len(teams) + 1]
        spent = await budgets.spend(month)
        errors = []
        for raw, value in stats.items():
            name, *labels = json.loads(raw)
            if name == "provider_errors":
                errors.append({"provider": labels[0], "model": labels[1], "status": labels[2], "count": int(value)})
        return DashboardData(
            month=month,
            generated_at=now,
            budgets=[state_payload(s, month, now) for s in await budgets.all_states(now)],
            spend={team: spent.get((team, None), 0.0) for team in teams},
            alerts=await budgets.recent_alerts(20),
            queue_depth=dict(zip(teams, map(int, depths), strict=True)),
            provider_errors=sorted(errors, key=lambda e: (-e["count"], e["provider"], e["model"])),
            drift=[json.loads(v) for v in drift.values()],
            ledger=await self._ledger(month, now),
        )

    async def _ledger(self, month: str, now: float) -> dict[str, list[dict[str, Any]]]:
        if self._cached and self._cached[1] == month and now - self._cached[0] < LEDGER_CACHE_S:
            return self._cached[2]
        figures = await asyncio.to_thread(ledger_figures, self.storage, month, now)
        self._cached = (now, month, figures)
        return figures
