"""Prometheus metrics from Redis state, so every API replica reports the same figures
whatever process did the work: counters bumped by finish.lua (jobs, tokens, cost, cache
hits, savings), provider errors and admission waits bumped by the workers, live queue
depths, budgets and their drift. ``families`` is pure; ``snapshot`` does the reading.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from broker import keys
from broker.budgets.counters import NANO, WAIT_BUCKETS, month_of
from broker.budgets.store import BudgetStore, state_payload
from schemas.config import BrokerConfig

P = "llm_broker_"


@dataclass
class MetricsSnapshot:
    stats: dict[tuple[str, ...], int] = field(default_factory=dict)
    queue_depth: dict[str, int] = field(default_factory=dict)
    admitted: int = 0
    running: int = 0
    usage_backlog: int = 0
    alerts_backlog: int = 0
    budgets: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)


async def snapshot(redis: Redis, config: BrokerConfig) -> MetricsSnapshot:
    teams = sorted(config.teams)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.STATS)
        for team in teams:
            pipe.zcard(keys.team_queue(team))
        pipe.zcard(keys.DISPATCHED)
        pipe.zcard(keys.LEASES)
        pipe.xlen(keys.USAGE_STREAM)
        pipe.xlen(keys.ALERTS_STREAM)
        pipe.hgetall(keys.BUDGET_DRIFT)
        answers = await pipe.execute()
    raw_stats, depths, rest = answers[0], answers[1 : 1 + len(teams)], answers[1 + len(teams) :]
    now = time.time()
    budgets = [state_payload(s, month_of(now), now) for s in await BudgetStore(redis, config).all_states(now)]
    return MetricsSnapshot(
        stats={tuple(json.loads(k)): int(v) for k, v in raw_stats.items()},
        queue_depth=dict(zip(teams, map(int, depths), strict=True)),
        admitted=int(rest[0]),
        running=int(rest[1]),
        usage_backlog=int(rest[2]),
        alerts_backlog=int(rest[3]),
        budgets=budgets,
        drift=[json.loads(v) for v in rest[4].values()],
    )


def families(snap: MetricsSnapshot) -> list[Metric]:
    """The metric families of one snapshot (pure)."""
    jobs_state = GaugeMetricFamily(P + "jobs", "Jobs not yet final, by state", labels=["state"])
    jobs_state.add_metric(["queued"], sum(snap.queue_depth.values()))
    jobs_state.add_metric(["admitted"], snap.admitted)
    jobs_state.add_metric(["running"], snap.running)
    depth = GaugeMetricFamily(P + "queue_depth", "Jobs waiting in a team's queue", labels=["team"])
    for team, count in sorted(snap.queue_depth.items()):
        depth.add_metric([team], count)

    job_labels = ["team", "provider", "model"]
    finished = CounterMetricFamily(
        P + "jobs_finished", "Jobs that reached a final state", labels=[*job_labels, "state"]
    )
    tokens = CounterMetricFamily(P + "tokens", "Tokens billed", labels=[*job_labels, "direction"])
    cost = CounterMetricFamily(P + "cost_usd", "US dollars spent", labels=job_labels)
    hits = CounterMetricFamily(P + "cache_hits", "Jobs answered from the cache", labels=job_labels)
    saved = CounterMetricFamily(P + "saved_usd", "US dollars saved", labels=[*job_labels, "by"])
    errors = CounterMetricFamily(P + "provider_errors", "Failed provider calls", labels=["provider", "model", "status"])
    waits: dict[str, dict[str, int]] = {}
    for name, *labels in snap.stats:
        value = snap.stats[(name, *labels)]
        if name == "jobs":
            finished.add_metric(labels, value)
        elif name in ("input_tokens", "output_tokens", "cached_tokens"):
            tokens.add_metric([*labels, name.removesuffix("_tokens")], value)
        elif name == "cost_nusd":
            cost.add_metric(labels, value / NANO)
        elif name == "cache_hits":
            hits.add_metric(labels, value)
        elif name in ("cache_saved_nusd", "routing_saved_nusd"):
            saved.add_metric([*labels, name.split("_")[0]], value / NANO)
        elif name == "provider_errors":
            errors.add_metric(labels, value)
        elif name.startswith("admission_wait_"):
            team = labels[0]
            key = f"le={labels[1]}" if name == "admission_wait_bucket" else name
            waits.setdefault(team, {})[key] = value
    wait = HistogramMetricFamily(
        P + "admission_wait_seconds", "Seconds from submission until a worker claimed the job", labels=["team"]
    )
    for team, values in sorted(waits.items()):
        buckets = [(f"{le:g}", values.get(f"le={le}", 0)) for le in WAIT_BUCKETS]
        buckets.append(("+Inf", values.get("admission_wait_count", 0)))
        wait.add_metric([team], buckets, values.get("admission_wait_sum_ms", 0) / 1000)

    spend = GaugeMetricFamily(P + "budget_spend_usd", "Spend this month", labels=["team", "feature"])
    budget = GaugeMetricFamily(P + "budget_usd", "Budget this month", labels=["team", "feature", "policy"])
    blocked = GaugeMetricFamily(
        P + "budget_action", "1 if the budget blocks or downgrades", labels=["team", "feature", "action"]
    )
    for b in snap.budgets:
        scope = [b["team"], b["feature"] or ""]
        spend.add_metric(scope, b["spend_usd"])
        budget.add_metric([*scope, b["policy"]], b["budget_usd"])
        blocked.add_metric([*scope, b["action"]], 0 if b["action"] == "run" else 1)
    drift = GaugeMetricFamily(
        P + "budget_drift_usd", "Spend counters minus ledger at the last reconciliation", labels=["team", "feature"]
    )
    for d in snap.drift:
        drift.add_metric([d["team"], d["feature"] or ""], d["drift_usd"])
    backlog = GaugeMetricFamily(P + "stream_backlog", "Entries waiting in a Redis stream", labels=["stream"])
    backlog.add_metric(["usage"], snap.usage_backlog)
    backlog.add_metric(["alerts"], snap.alerts_backlog)
    return [
        jobs_state,
        depth,
        finished,
        tokens,
        cost,
        hits,
        saved,
        errors,
        wait,
        spend,
        budget,
        blocked,
        drift,
        backlog,
    ]


class SnapshotCollector(Collector):
    """Adapts a taken snapshot to prometheus_client's registry."""

    def __init__(self, snap: MetricsSnapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        yield from families(self.snap)
