"""Validating a batch's input file and turning its valid lines into ordinary jobs.

Runs in the process that creates the batch (API or CLI), under the batch's ``validating``
lease; if that process dies, the keeper runs it again once the lease lapses. Job ids are
derived from the batch and line (``line_job_id``) and ``create_jobs.lua`` only creates
missing jobs, so running it twice never duplicates or resets a line.

Every line is validated before any job is created, so the batch's job count is known
(and written to its counters) before the first job can finish.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from redis.asyncio import Redis

from broker import keys
from broker.auth import Principal
from broker.batches.files import FileStore
from broker.batches.lines import BatchLine, LineError, line_error, line_job_id, parse_line
from broker.batches.store import BatchStore
from broker.budgets.enforce import BudgetGate
from broker.cache.dispatch import CacheSender
from broker.cache.policy import cache_plan
from broker.errors import BrokerError
from broker.jobstore.records import NewJob
from broker.prompts.registry import PromptRegistry
from broker.redis_clients import as_text
from broker.scheduler.dispatch import make_sender
from broker.settings import redis_url
from broker.submit import prepare_job, render_prompt
from broker.webhooks.callbacks import CallbackChecker
from schemas.batch import BatchError, BatchStatus
from schemas.config import BrokerConfig

MAX_LISTED_ERRORS = 1000  # in the batch object; the error file names every invalid line


def cacheable(job: NewJob, config: BrokerConfig) -> bool:
    """A batch line looks in the cache before admission exactly when a lone job would."""
    return config.cache.enabled and cache_plan(job.request, config.cache).read


@lru_cache(maxsize=4)
def _cache_sender(broker_url: str) -> CacheSender:
    return CacheSender(make_sender(broker_url))


def send_lookups(config: BrokerConfig, job_ids: Sequence[str]) -> None:
    sender = _cache_sender(redis_url(config))
    for job_id in job_ids:
        sender.lookup(job_id)


@dataclass(frozen=True)
class Expansion:
    lines: int
    jobs: list[NewJob]
    job_lines: list[int]  # the input line of each job
    invalid: list[LineError]


def read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return [(n, line) for n, line in enumerate(handle, start=1) if line.strip()]


async def _job_for(
    parsed: BatchLine,
    batch: dict[str, str],
    principal: Principal,
    config: BrokerConfig,
    registry: PromptRegistry,
    callbacks: CallbackChecker,
    budgets: BudgetGate,
) -> NewJob | LineError:
    request = parsed.request
    job_id = line_job_id(batch["id"], float(batch["created_at"]), parsed.line)
    try:
        if request.callback_url is not None:
            problem = await callbacks.problem(request.callback_url)
            if problem is not None:
                return line_error(parsed.line, parsed.custom_id, "body.callback_url", problem)
        request, template = await render_prompt(request, principal, registry, job_id)
        job = prepare_job(request, principal, config, float(batch["created_at"]), job_id=job_id, template=template)
        job = await budgets.apply(job)
    except BrokerError as exc:
        param = f"body.{exc.param}" if exc.param else "body"
        message = exc.message.removeprefix(f"{exc.param}: ") if exc.param else exc.message
        return line_error(parsed.line, parsed.custom_id, param, message)
    return replace(job, batch_id=batch["id"], custom_id=parsed.custom_id)


async def validate(batch: dict[str, str], path: Path, config: BrokerConfig, redis: Redis) -> Expansion:
    """Every line checked (and rendered, routed, counted) before anything is stored."""
    principal = Principal(team=batch["team"], user=batch["user"], key_id=batch["key_id"])
    metadata = json.loads(batch["metadata"]) if batch.get("metadata") else None
    registry = PromptRegistry(redis)
    callbacks = CallbackChecker(config.webhooks)
    budgets = BudgetGate(config, redis, time.time())
    seen: set[str] = set()
    jobs: list[NewJob] = []
    job_lines: list[int] = []
    invalid: list[LineError] = []
    numbered = read_lines(path)
    for index, (number, text) in enumerate(numbered):
        parsed = parse_line(number, text, seen, metadata)
        outcome = (
            parsed
            if isinstance(parsed, LineError)
            else await _job_for(parsed, batch, principal, config, registry, callbacks, budgets)
        )
        if isinstance(outcome, LineError):
            invalid.append(outcome)
        else:
            jobs.append(outcome)
            job_lines.append(number)
        if index % 500 == 499:
            await asyncio.sleep(0)  # let the API serve others while a big file is checked
    return Expansion(lines=len(numbered), jobs=jobs, job_lines=job_lines, invalid=invalid)


def listed_errors(invalid: list[LineError]) -> str:
    return json.dumps(
        [
            BatchError(code=e.code, line=e.line, message=e.message, param=e.param).model_dump()
            for e in invalid[:MAX_LISTED_ERRORS]
        ]
    )


async def expand(batch_id: str, config: BrokerConfig, redis: Redis, files: FileStore) -> BatchStatus:
    """Validate the batch's input and create its jobs; returns the status it ends in."""
    batches = BatchStore(redis)
    batch = await batches.raw(batch_id)
    status = BatchStatus(batch["status"])
    if status not in (BatchStatus.VALIDATING, BatchStatus.CANCELLING) or batch.get("expanded") == "1":
        return status
    now = time.time()
    path = files.path(batch["input_file_id"])
    if not path.exists():
        problem = [{"code": "file_not_found", "message": f"input file {batch['input_file_id']} is gone"}]
        await batches.transition(
            batch_id, [status], BatchStatus.FAILED, failed_at=now, errors=json.dumps(problem), expanded=1
        )
        return BatchStatus.FAILED
    expansion = await validate(batch, path, config, redis)
    if expansion.lines > config.batches.max_lines:
        message = f"the file has {expansion.lines} requests; at most {config.batches.max_lines} fit one batch"
        problem = [{"code": "too_many_requests", "message": message}]
        await batches.transition(
            batch_id,
            [status],
            BatchStatus.FAILED,
            failed_at=now,
            errors=json.dumps(problem),
            n_lines=expansion.lines,
            expanded=1,
        )
        return BatchStatus.FAILED
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.batch_invalid(batch_id))
        if expansion.invalid:
            pipe.hset(keys.batch_invalid(batch_id), mapping={str(e.line): e.to_json() for e in expansion.invalid})
        pipe.hset(keys.BATCH_COUNTS, f"{batch_id}:jobs", len(expansion.jobs))
        pipe.hset(
            keys.batch(batch_id),
            mapping={
                "n_lines": expansion.lines,
                "n_invalid": len(expansion.invalid),
                "errors": listed_errors(expansion.invalid) if expansion.invalid else "",
                "job_lines": ",".join(str(n) for n in expansion.job_lines),
            },
        )
        await pipe.execute()
    if not expansion.jobs:
        if not expansion.invalid:
            empty = [{"code": "empty_file", "message": "the input file has no requests"}]
            await batches.set_fields(batch_id, errors=json.dumps(empty))
        await batches.transition(batch_id, [BatchStatus.VALIDATING], BatchStatus.FAILED, failed_at=now, expanded=1)
        await batches.transition(batch_id, [BatchStatus.CANCELLING], BatchStatus.CANCELLING, expanded=1)
        await batches.due(batch_id, now)
        return BatchStatus(as_text(await redis.hget(keys.batch(batch_id), "status")) or "failed")
    chunk = config.batches.create_chunk
    for start in range(0, len(expansion.jobs), chunk):
        if (await redis.hget(keys.batch(batch_id), "status")) == BatchStatus.CANCELLING.value.encode():
            break  # cancelled while validating: the lines not created yet end as cancelled
        _, lookups = await batches.create_jobs(
            batch["team"], expansion.jobs[start : start + chunk], lambda job: cacheable(job, config)
        )
        if lookups:  # the scheduler's reaper sends on any whose lookup message is lost
            await asyncio.to_thread(send_lookups, config, lookups)
    window_end = float(batch["created_at"]) + float(batch["window_s"])
    started = await batches.transition(
        batch_id,
        [BatchStatus.VALIDATING],
        BatchStatus.IN_PROGRESS,
        in_progress_at=time.time(),
        expires_at=window_end,
        expanded=1,
    )
    if not started:  # cancelled meanwhile
        await batches.set_fields(batch_id, expanded=1, expires_at=window_end)
        await batches.due(batch_id, time.time())
        return BatchStatus.CANCELLING
    await batches.due(batch_id, min(window_end, time.time() + config.batches.recheck_s))
    return BatchStatus.IN_PROGRESS
