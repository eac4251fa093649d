"""``/v1/cache``: how big a team's cache is, and purging it (by team, template version, or all)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from broker.api.deps import Caller, services
from broker.cache.purge import owner_stats, purge, purge_selector

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/cache", tags=["cache"])


@router.get("")
async def cache_stats(
    request: Request, who: Caller, team: str | None = Query(default=None, description="default: the caller's team")
) -> JSONResponse:
    """Scopes and entries held for a team (another team's needs an admin key)."""
    svc = services(request)
    selector = purge_selector(who, svc.config, team=team)
    assert selector.owner is not None
    counts = await owner_stats(svc.redis, selector.owner)
    return JSONResponse({"object": "cache.stats", "owner": selector.owner, **counts})


@router.delete("")
async def purge_cache(
    request: Request,
    who: Caller,
    team: str | None = Query(default=None, description="default: the caller's team; @org: the org-wide scope"),
    all_teams: bool = Query(default=False, alias="all", description="every team's entries (admin)"),
    template_id: str | None = Query(default=None, min_length=1, max_length=128),
    template_version: int | None = Query(default=None, ge=1),
) -> JSONResponse:
    """Delete cached answers. Served from Redis, so nothing purged is answered again once this returns."""
    svc = services(request)
    selector = purge_selector(who, svc.config, team, all_teams, template_id, template_version)
    removed = await purge(svc.redis, selector)
    if svc.cache is not None:
        try:
            svc.cache.purge(selector.as_dict())
        except Exception:  # the entries are gone already; the vectors are only space
            log.exception("could not ask the cache worker to drop purged vectors")
    return JSONResponse({"object": "cache.purge", "purged": removed, **selector.as_dict()})
