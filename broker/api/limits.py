"""``GET /v1/limits``: the caller's token buckets (team, key, provider models) and queue depth."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from broker.admission.levels import bucket_levels, queue_depths
from broker.api.deps import Caller, services

router = APIRouter(tags=["limits"])


@router.get("/v1/limits")
async def get_limits(request: Request, who: Caller) -> JSONResponse:
    """Each bucket's capacity, current level and refill rate; queue depth of the caller's team
    (of every team for an admin key)."""
    svc = services(request)
    teams = sorted(svc.config.teams) if who.admin else [who.team]
    return JSONResponse(
        {
            "team": who.team,
            "key_id": who.key_id,
            "buckets": await bucket_levels(svc.redis, svc.config, who.team, who.key_id),
            "queue_depth": await queue_depths(svc.redis, teams),
        }
    )
