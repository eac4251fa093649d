"""``/v1/jobs``: submit, read (optionally waiting), cancel."""

from __future__ import annotations

import re

from fastapi import APIRouter, Header, Query, Request, Response

from broker.api.deps import Caller, services
from broker.jobstore.records import job_view
from broker.submit import submit_job
from schemas.chat import JobRequest
from schemas.job import FINAL_STATES, JobState, JobView

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait=(\d+(?:\.\d+)?)")


def prefer_wait(prefer: str | None) -> float | None:
    """Seconds asked for by an RFC 7240 ``Prefer: wait=N`` header."""
    if not prefer:
        return None
    match = _PREFER_WAIT.search(prefer)
    return float(match.group(1)) if match else None


async def _view_after_wait(
    request: Request, job_id: str, team: str, wait_s: float | None, known_state: str | None = None
) -> JobView:
    """The job, after waiting up to ``wait_s`` for a final state. Ownership is checked on the
    full read (``fields``); while waiting only the state is re-read."""
    svc = services(request)
    fields = None if known_state else await svc.store.fields(job_id, team)
    state = known_state or (fields or {})["state"]
    if wait_s and JobState(state) not in FINAL_STATES:

        async def is_final() -> bool:
            current = await svc.store.state(job_id)
            return current is None or JobState(current) in FINAL_STATES

        await svc.waiters.wait(job_id, min(wait_s, svc.config.api.max_wait_s), is_final)
        fields = None
    return job_view(fields or await svc.store.fields(job_id, team))


def _json(view: JobView, status: int = 200) -> Response:
    return Response(view.model_dump_json(), status_code=status, media_type="application/json")


@router.post("", status_code=202)
async def create_job(
    body: JobRequest, request: Request, who: Caller, prefer: str | None = Header(default=None)
) -> Response:
    """Accept a job (202). With ``Prefer: wait=N``, 200 with the finished job if it ends within N s.
    A repeated ``idempotency_key`` answers 200 with the job it first created."""
    svc = services(request)
    job_id, created = await submit_job(body, who, svc.config, svc.store, svc.cache)
    wait_s = prefer_wait(prefer)
    view = await _view_after_wait(request, job_id, who.team, wait_s, "queued" if created else None)
    response = _json(view, 202 if created and view.state not in FINAL_STATES else 200)
    response.headers["Location"] = f"/v1/jobs/{job_id}"
    if wait_s is not None:
        response.headers["Preference-Applied"] = f"wait={wait_s:g}"
    return response


@router.get("/{job_id}")
async def get_job(
    job_id: str,
    request: Request,
    who: Caller,
    wait: float | None = Query(default=None, ge=0, description="seconds to wait for a final state"),
) -> Response:
    return _json(await _view_after_wait(request, job_id, who.team, wait))


@router.delete("/{job_id}")
async def cancel_job(job_id: str, request: Request, who: Caller) -> Response:
    """Cancel a job no worker has started; 409 once it runs or has ended."""
    svc = services(request)
    await svc.store.cancel(job_id, who.team)
    return _json(job_view(await svc.store.fields(job_id, who.team)))
