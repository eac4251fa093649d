"""``POST /v1/jobs/{id}/feedback``: the outcome score of a finished job, for version reports."""

from __future__ import annotations

from fastapi import APIRouter, Request

from broker.api.deps import Caller, services
from broker.prompts.feedback import record_feedback
from schemas.prompts import FeedbackRecord, FeedbackRequest

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.post("/{job_id}/feedback")
async def post_feedback(job_id: str, body: FeedbackRequest, request: Request, who: Caller) -> FeedbackRecord:
    """Score a job of your team once it has succeeded or failed; posting again replaces the
    score (the latest counts). Another team's job is 404."""
    return await record_feedback(services(request).store, job_id, who.team, body)
