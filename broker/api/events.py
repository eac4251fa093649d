"""``GET /v1/jobs/{id}/events``: a job's life as server-sent events.

``event: state`` each time the job changes state (``{"state", "attempt"}``), ``event: token``
for each piece of text of a streamed job (``{"attempt", "delta"}``) as the worker receives
it, and ``event: done`` with the finished job (as ``GET /v1/jobs/{id}`` shows it) last.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from broker.api.deps import Caller, services
from broker.api.dropin import dropin
from broker.api.token_hub import Delta, Final, StateChange, follow
from broker.jobstore.records import job_view

router = APIRouter(tags=["jobs"])
STATE_POLL_S = 0.25


def event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


@router.get("/v1/jobs/{job_id}/events")
async def job_events(
    job_id: str,
    request: Request,
    who: Caller,
    timeout: float = Query(default=600.0, gt=0, le=3600, description="seconds to follow the job at most"),
) -> StreamingResponse:
    svc = services(request)
    await svc.store.fields(job_id, who.team)  # another team's job is 404 before anything streams
    hub = dropin(request).hub

    async def body() -> AsyncIterator[bytes]:
        last = ""
        async for item in follow(hub, svc.redis, svc.waiters, job_id, timeout, state_poll_s=STATE_POLL_S):
            if isinstance(item, StateChange):
                last = item.state
                yield event("state", json.dumps({"state": item.state, "attempt": item.attempt}))
            elif isinstance(item, Delta):
                yield event("token", json.dumps({"attempt": item.attempt, "delta": item.text}))
            elif isinstance(item, Final):
                view = job_view(item.fields)
                if view.state.value != last:
                    yield event("state", json.dumps({"state": view.state.value, "attempt": len(view.attempts)}))
                yield event("done", view.model_dump_json())

    return StreamingResponse(body(), media_type="text/event-stream")
