"""Budgets in Redis: the month's spend counters, admins' overrides, published states and
alerts fired once per period. Every decision is delegated to ``broker.budgets.policy``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from redis.asyncio import Redis

from broker import keys
from broker.budgets.counters import from_nano, month_of, parse_scope, spend_field
from broker.budgets.policy import Budget, BudgetState, budgeted_scopes, budgets_for, evaluate, threshold_label
from broker.jobstore.lua import register
from schemas.config import BrokerConfig

log = logging.getLogger("llm_broker.budgets")

PERIOD_TTL_S = 62 * 24 * 3600  # a month's keys outlive the month, for reports on the last one
RECENT_ALERTS = 200

Scope = tuple[str, str | None]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def alert_payload(state: BudgetState, threshold: float, month: str, now: float) -> dict[str, Any]:
    """The alert as delivered (webhook body ``data``), logged and shown on the dashboard.
    Its id is derived from what fired, so receivers can deduplicate redeliveries."""
    b = state.budget
    identity = f"{month}|{b.scope}|{threshold_label(threshold)}|{b.usd!r}"
    return {
        "id": "alert_" + hashlib.sha256(identity.encode()).hexdigest()[:24],
        "type": "budget.threshold_crossed",
        "team": b.team,
        "feature": b.feature,
        "month": month,
        "threshold": threshold,
        "threshold_percent": float(threshold_label(threshold)),
        "spend_usd": round(state.spend_usd, 6),
        "budget_usd": b.usd,
        "fraction": round(state.fraction, 6),
        "policy": b.policy,
        "action": state.action,
        "message": f"budget alert: {state.describe()}; crossed {threshold_label(threshold)} %",
        "at": now,
    }


def state_payload(state: BudgetState, month: str, now: float) -> dict[str, Any]:
    b = state.budget
    return {
        "team": b.team,
        "feature": b.feature,
        "month": month,
        "spend_usd": round(state.spend_usd, 6),
        "budget_usd": b.usd,
        "fraction": round(state.fraction, 6),
        "policy": b.policy,
        "action": state.action,
        "crossed": list(state.crossed),
        "updated_at": now,
    }


class BudgetStore:
    def __init__(self, redis: Redis, config: BrokerConfig) -> None:
        self.redis = redis
        self.config = config
        self._fire = register(redis, "broker.budgets", "fire_alert")

    async def overrides(self, month: str) -> dict[Scope, float]:
        raw = await self.redis.hgetall(keys.budget_overrides(month))
        return {parse_scope(_text(k)): float(v) for k, v in raw.items()}

    async def spend(self, month: str) -> dict[Scope, float]:
        """Real-time spend of the month per team and per team and feature, in dollars."""
        raw = await self.redis.hgetall(keys.spend(month))
        return {parse_scope(_text(k)): from_nano(v) for k, v in raw.items()}

    async def states(self, team: str, feature: str | None, now: float) -> list[BudgetState]:
        """The states of the budgets a job of this team and feature is charged against."""
        month = month_of(now)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.budget_overrides(month))
            pipe.hmget(keys.spend(month), spend_field(team), spend_field(team, feature))
            raw_overrides, (team_nano, feature_nano) = await pipe.execute()
        overrides = {parse_scope(_text(k)): float(v) for k, v in raw_overrides.items()}
        return [
            evaluate(b, from_nano((feature_nano if b.feature is not None else team_nano) or 0))
            for b in budgets_for(self.config, team, feature, overrides)
        ]

    async def all_states(self, now: float) -> list[BudgetState]:
        """Every budgeted team and feature this month (dashboard, sweeps, CLI)."""
        month = month_of(now)
        overrides = await self.overrides(month)
        spent = await self.spend(month)
        found = []
        for team, feature in budgeted_scopes(self.config, overrides):
            budget = next(b for b in budgets_for(self.config, team, feature, overrides) if b.feature == feature)
            found.append(evaluate(budget, spent.get((team, feature), 0.0)))
        return found

    async def check(self, team: str, feature: str | None, now: float | None = None) -> list[BudgetState]:
        """After spend moved: fire each newly crossed threshold once, publish the states."""
        now = time.time() if now is None else now
        states = await self.states(team, feature, now)
        await self.settle(states, now)
        return states

    async def settle(self, states: list[BudgetState], now: float) -> int:
        """Fire what crossed (once per period and budget) and publish; returns alerts fired."""
        month = month_of(now)
        fired = 0
        for state in states:
            for threshold in state.crossed:
                fired += await self.fire(state, threshold, month, now)
        if states:
            mapping: dict[Any, Any] = {
                spend_field(s.budget.team, s.budget.feature): json.dumps(state_payload(s, month, now)) for s in states
            }
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(keys.budget_state(month), mapping=mapping)
                pipe.expire(keys.budget_state(month), PERIOD_TTL_S)
                await pipe.execute()
        return fired

    async def fire(self, state: BudgetState, threshold: float, month: str, now: float) -> int:
        b = state.budget
        alert = alert_payload(state, threshold, month, now)
        flag = keys.budget_alert_fired(month, spend_field(b.team, b.feature), threshold_label(threshold), repr(b.usd))
        done = int(
            await self._fire(
                keys=[flag, keys.ALERTS_STREAM, keys.ALERTS_RECENT],
                args=[json.dumps(alert), PERIOD_TTL_S, RECENT_ALERTS],
            )
        )
        if done:
            log.warning("%s", alert["message"])
        return done

    async def set_budget(self, team: str, usd: float, feature: str | None = None, month: str | None = None) -> None:
        """An admin's budget for a month (default: this one), overriding the file; the new
        state is published at once, so raising a budget unblocks the team immediately."""
        month = month or month_of(time.time())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.budget_overrides(month), spend_field(team, feature), repr(float(usd)))
            pipe.expire(keys.budget_overrides(month), PERIOD_TTL_S)
            await pipe.execute()
        log.warning("budget of %s%s for %s set to $%.2f", team, f"/{feature}" if feature else "", month, usd)
        if month == month_of(time.time()):
            await self.check(team, feature)

    async def published(self, month: str) -> dict[Scope, dict[str, Any]]:
        raw = await self.redis.hgetall(keys.budget_state(month))
        return {parse_scope(_text(k)): json.loads(v) for k, v in raw.items()}

    async def recent_alerts(self, limit: int = 50) -> list[dict[str, Any]]:
        return [json.loads(item) for item in await self.redis.lrange(keys.ALERTS_RECENT, 0, limit - 1)]


def blocked_budget(states: list[BudgetState]) -> Budget | None:
    """The budget that blocks a job, if any (for callers that only need yes or no)."""
    for state in states:
        if state.action == "block":
            return state.budget
    return None


async def team_action(redis: Redis, team: str, now: float | None = None) -> str:
    """What the published state says about a team's queued jobs: ``run``, ``block`` or
    ``downgrade`` (the scheduler's admission can refuse a blocked team's jobs with this)."""
    raw = await redis.hget(keys.budget_state(month_of(time.time() if now is None else now)), spend_field(team))
    return str(json.loads(raw)["action"]) if raw else "run"
