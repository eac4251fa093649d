"""Outcome feedback on a finished job: kept on the job and appended to the feedback stream.

Last write wins: a team may correct a score by posting again. Each post appends a row
to the ``lb:feedback`` stream, which the sink drains into the ``feedback`` Parquet
table; reports keep the latest row per job, so repeated posts and redelivered stream
entries never count twice. Only the job's own team may score it (404 otherwise, as for
reading it), and only once the job has run to an end (succeeded or failed).
"""

from __future__ import annotations

from broker import keys
from broker.errors import Conflict, NotFound
from broker.jobstore.lua import register
from broker.jobstore.store import JobStore
from schemas.prompts import FeedbackRecord, FeedbackRequest

SCORABLE = ("succeeded", "failed")


async def record_feedback(store: JobStore, job_id: str, team: str, body: FeedbackRequest) -> FeedbackRecord:
    fields = await store.fields(job_id, team)
    if fields["state"] not in SCORABLE:
        raise Conflict(f"job {job_id} is {fields['state']}; feedback is taken once it has succeeded or failed")
    seconds, micros = await store.redis.time()
    version = fields.get("template_version") or ""
    record = FeedbackRecord(
        job_id=job_id,
        team=team,
        feature=fields["feature"],
        template_id=fields.get("template_id") or None,
        template_version=int(version) if version else None,
        score=body.score,
        label=body.label,
        created_at=seconds + micros / 1_000_000,
    )
    script = register(store.redis, "broker.prompts", "feedback")
    done = await script(keys=[keys.job(job_id), keys.FEEDBACK_STREAM], args=[team, record.model_dump_json(), job_id])
    if not done:
        raise NotFound(f"no job {job_id!r}", param="job_id")
    return record
