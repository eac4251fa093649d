"""Submit a JSONL file of job requests and, optionally, watch them to the end."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from broker import keys
from broker.auth import Principal
from broker.budgets.enforce import enforce_budget
from broker.cache.dispatch import CacheSender
from broker.errors import BrokerError
from broker.jobstore.records import decode_hash, job_view
from broker.jobstore.store import JobStore
from broker.prompts.registry import PromptRegistry
from broker.redis_clients import async_client
from broker.scheduler.dispatch import make_sender
from broker.settings import redis_url
from broker.submit import enqueue, prepare_submission
from schemas.chat import JobRequest
from schemas.config import BrokerConfig
from schemas.job import FINAL_STATES, JobState


def parse_lines(file: Path) -> tuple[list[JobRequest], list[str]]:
    """Valid requests, and one message per invalid line naming the line and field."""
    requests, errors = [], []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            requests.append(JobRequest.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "line"
            errors.append(f"line {number}: {field}: {first['msg']}")
    return requests, errors


async def submit_file(config: BrokerConfig, file: Path, team: str, wait: bool, output: Path | None) -> dict[str, Any]:
    requests, errors = parse_lines(file)
    for error in errors:
        print(error)
    redis = async_client(config)
    store = JobStore(redis)
    cache = CacheSender(make_sender(redis_url(config))) if config.cache.enabled else None
    principal = Principal(team=team, user="cli", key_id="cli")
    registry = PromptRegistry(redis)
    job_ids = []
    for request in requests:
        try:
            now = time.time()
            job = await prepare_submission(request, principal, config, registry, now)
            job = await enforce_budget(job, config, redis, now)
        except BrokerError as exc:
            errors.append(exc.message)
            print(exc.message)
            continue
        job_id, _ = await enqueue(job, config, store, cache)
        job_ids.append(job_id)
    summary: dict[str, Any] = {"submitted": len(job_ids), "rejected": len(errors), "job_ids": job_ids}
    if wait and job_ids:
        summary.update(await watch(redis, job_ids, output))
    await redis.aclose()
    return summary


async def watch(redis: Any, job_ids: list[str], output: Path | None) -> dict[str, Any]:
    pending = set(job_ids)
    states: dict[str, str] = {}
    with Progress(
        TextColumn("[bold]jobs"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task("jobs", total=len(job_ids), detail="")
        while pending:
            batch = sorted(pending)
            async with redis.pipeline(transaction=False) as pipe:
                for job_id in batch:
                    pipe.hget(keys.job(job_id), "state")
                answers = await pipe.execute()
            for job_id, state in zip(batch, answers, strict=True):
                if state is not None and JobState(state.decode()) in FINAL_STATES:
                    states[job_id] = state.decode()
                    pending.discard(job_id)
            done = sum(1 for s in states.values() if s == "succeeded")
            failed = len(states) - done
            progress.update(task, completed=len(states), detail=f"ok {done} failed {failed} queued {len(pending)}")
            if pending:
                await asyncio.sleep(0.25)
    if output:
        with output.open("w") as handle:
            for job_id in job_ids:
                fields = decode_hash(await redis.hgetall(keys.job(job_id)))
                handle.write(job_view(fields).model_dump_json() + "\n")
    succeeded = sum(1 for s in states.values() if s == "succeeded")
    return {"succeeded": succeeded, "failed": len(states) - succeeded}
