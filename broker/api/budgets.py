"""``/v1/budgets``: spend against budget (a team sees its own, an admin every team) and an
admin's mid-month change of a budget, which takes effect at once."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from broker.api.deps import Caller, services
from broker.budgets.counters import month_of
from broker.budgets.store import BudgetStore, state_payload
from broker.errors import Forbidden, NotFound
from schemas.budget import BudgetChange

router = APIRouter(prefix="/v1/budgets", tags=["budgets"])


async def _states(request: Request, team: str | None) -> list[dict[str, Any]]:
    svc = services(request)
    now = time.time()
    states = await BudgetStore(svc.redis, svc.config).all_states(now)
    return [state_payload(s, month_of(now), now) for s in states if team is None or s.budget.team == team]


@router.get("")
async def list_budgets(request: Request, who: Caller) -> dict[str, Any]:
    """This month's budgets with real-time spend, used fraction, policy and next-job action."""
    return {"object": "list", "data": await _states(request, None if who.admin else who.team)}


@router.put("/{team}")
async def set_budget(team: str, body: BudgetChange, request: Request, who: Caller) -> dict[str, Any]:
    """Admins only: set (typically raise) a team's or feature's budget for a month."""
    if not who.admin:
        raise Forbidden("only an admin key may change budgets")
    svc = services(request)
    if team not in svc.config.teams:
        raise NotFound(f"team: no team {team!r} on this broker", param="team")
    await BudgetStore(svc.redis, svc.config).set_budget(team, body.monthly_usd, body.feature, body.month)
    return {"object": "list", "data": await _states(request, team)}
