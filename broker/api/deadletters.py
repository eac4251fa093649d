"""``/v1/dead-letters``: failed jobs of the caller's team (every team for an admin key), and retry."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from broker.api.deps import Caller, services
from broker.deadletters.store import DeadLetters
from broker.errors import Forbidden
from broker.jobstore.records import job_view

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


def _teams(request: Request, team: str | None, admin: bool, own: str) -> list[str]:
    if team is not None and team != own and not admin:
        raise Forbidden("only an admin key may read another team's dead letters")
    if team is not None:
        return [team]
    return sorted(services(request).config.teams) if admin else [own]


@router.get("")
async def list_dead_letters(
    request: Request,
    who: Caller,
    team: str | None = Query(default=None, description="one team (admin: any)"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> JSONResponse:
    svc = services(request)
    letters = await DeadLetters(svc.redis, svc.config).newest(_teams(request, team, who.admin, who.team), limit)
    return JSONResponse({"object": "list", "data": [d.as_dict() for d in letters]})


@router.post("/{job_id}/retry", status_code=202)
async def retry_dead_letter(job_id: str, request: Request, who: Caller) -> Response:
    """Send the failed job (same id) back through admission with a fresh candidate chain."""
    svc = services(request)
    teams = sorted(svc.config.teams) if who.admin else [who.team]
    team = await DeadLetters(svc.redis, svc.config).retry(job_id, teams)
    view = job_view(await svc.store.fields(job_id, team))
    return Response(view.model_dump_json(), status_code=202, media_type="application/json")
