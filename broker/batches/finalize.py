"""Reading a batch's lines back from its jobs: have they all ended, cancel the ones not started,
and write the output and error files once they have."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator

from redis.asyncio import Redis

from broker import keys
from broker.batches.files import FileStore
from broker.batches.lines import LineError, line_job_id
from broker.batches.plan import final_status
from broker.batches.results import CANCELLED_REASON, EXPIRED_REASON, LineOutcome, invalid_line, job_line, split_files
from broker.batches.store import BatchStore
from broker.batches.view import counter_fields
from broker.errors import NotFound
from broker.jobstore.records import decode_hash
from broker.jobstore.store import JobStore
from schemas.batch import BatchStatus
from schemas.job import FINAL_STATES, JobState

SCAN_CHUNK = 1000
FIELDS = ("state", "result", "error", "attempts", "custom_id", "usage")


def produced_file_id(batch_id: str, kind: str) -> str:
    """Stable per batch, so finalizing twice rewrites the same files."""
    return "file-" + hashlib.sha256(f"{batch_id}:{kind}".encode()).hexdigest()[:24]


def batch_jobs(fields: dict[str, str]) -> Iterator[tuple[int, str]]:
    """(input line, job id) of every line that became a job."""
    created_at = float(fields["created_at"])
    for raw in filter(None, (fields.get("job_lines") or "").split(",")):
        line = int(raw)
        yield line, line_job_id(fields["id"], created_at, line)


async def _read(redis: Redis, job_ids: list[str], names: tuple[str, ...]) -> list[dict[str, str] | None]:
    out: list[dict[str, str] | None] = []
    for start in range(0, len(job_ids), SCAN_CHUNK):
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids[start : start + SCAN_CHUNK]:
                pipe.hmget(keys.job(job_id), *names)
            rows = await pipe.execute()
        for row in rows:
            values = [v.decode() if isinstance(v, bytes) else v for v in row]
            out.append(None if values[0] is None else dict(zip(names, (v or "" for v in values), strict=True)))
    return out


async def all_ended(redis: Redis, fields: dict[str, str]) -> bool:
    """Every job final (a job that was never created counts as ended: the batch was cancelled)."""
    job_ids = [job_id for _, job_id in batch_jobs(fields)]
    states = await _read(redis, job_ids, ("state",))
    return all(s is None or JobState(s["state"]) in FINAL_STATES for s in states)


async def sweep(redis: Redis, fields: dict[str, str], reason: str) -> int:
    """Cancel the batch's jobs no worker has started; running ones are left to finish."""
    store = JobStore(redis)
    text = EXPIRED_REASON if reason == "expired" else CANCELLED_REASON
    job_ids = [job_id for _, job_id in batch_jobs(fields)]
    states = await _read(redis, job_ids, ("state",))
    cancelled = 0
    for job_id, state in zip(job_ids, states, strict=True):
        if state is None or state["state"] not in (JobState.QUEUED.value, JobState.ADMITTED.value):
            continue
        try:
            outcome = await store.cancel_unstarted(job_id, fields["team"], text)
        except NotFound:
            continue
        cancelled += outcome == "cancelled"
    return cancelled


def _totals(jobs: list[dict[str, str] | None]) -> dict[str, float]:
    totals = dict.fromkeys(("succeeded", "failed", "cancelled", "input_tokens", "output_tokens", "cached_tokens"), 0.0)
    totals["cost_usd"] = 0.0
    totals["jobs"] = float(len(jobs))
    for job in jobs:
        state = job["state"] if job else "cancelled"
        totals[state if state in ("succeeded", "failed") else "cancelled"] += 1
        if job and job.get("usage"):
            usage = json.loads(job["usage"])
            for name in ("input_tokens", "output_tokens", "cached_tokens", "cost_usd"):
                totals[name] += usage.get(name, 0) or 0
    return totals


async def finalize(redis: Redis, files: FileStore, fields: dict[str, str]) -> BatchStatus | None:
    """Write the output and error files and end the batch; None when another keeper did."""
    batches = BatchStore(redis)
    batch_id = fields["id"]
    now = time.time()
    if fields["status"] == BatchStatus.IN_PROGRESS.value:
        await batches.transition(batch_id, [BatchStatus.IN_PROGRESS], BatchStatus.FINALIZING, finalizing_at=now)
    lines = list(batch_jobs(fields))
    jobs = await _read(redis, [job_id for _, job_id in lines], FIELDS)
    outcomes: list[LineOutcome] = [
        job_line(line, job_id, (job or {}).get("custom_id", ""), job)
        for (line, job_id), job in zip(lines, jobs, strict=True)
    ]
    invalid = decode_hash(await redis.hgetall(keys.batch_invalid(batch_id)))
    outcomes.extend(invalid_line(LineError.from_json(raw)) for raw in invalid.values())
    output, errors = split_files(outcomes)
    team = fields["team"]
    output_id = error_id = ""
    if output:
        output_id = produced_file_id(batch_id, "output")
        await files.write_produced(output_id, team, f"{batch_id}_output.jsonl", output)
    if errors:
        error_id = produced_file_id(batch_id, "error")
        await files.write_produced(error_id, team, f"{batch_id}_error.jsonl", errors)
    status = final_status(fields)
    stamp = {BatchStatus.CANCELLED: "cancelled_at", BatchStatus.EXPIRED: "expired_at"}.get(status, "completed_at")
    moved = await batches.transition(
        batch_id,
        [BatchStatus.FINALIZING, BatchStatus.CANCELLING],
        status,
        output_file_id=output_id,
        error_file_id=error_id,
        final_counts=json.dumps(_totals(jobs)),
        **{stamp: time.time()},
    )
    if not moved:
        return None
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hdel(keys.BATCH_COUNTS, *counter_fields(batch_id))
        if fields.get("callback_url"):
            pipe.zadd(keys.WEBHOOKS_DUE, {f"batch:{batch_id}": int(time.time() * 1000)}, nx=True)
        await pipe.execute()
    return status
