"""Batch API operations shared by the HTTP API and the CLI: create (validate and expand),
cancel. Thin callers (routes, commands) only parse arguments and render answers."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from redis.asyncio import Redis

from broker import keys
from broker.auth import Principal
from broker.batches.expand import expand
from broker.batches.files import FileStore
from broker.batches.lines import completion_window_s
from broker.batches.store import BatchStore
from broker.errors import Conflict, InvalidRequest
from broker.redis_clients import as_text
from broker.webhooks.callbacks import check_callback_url
from schemas.batch import BatchCreate, BatchObject, BatchStatus
from schemas.config import BrokerConfig

CANCELLABLE = (BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS, BatchStatus.FINALIZING)
IDEMPOTENCY_TTL_S = 7 * 86400


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def check_create(body: BatchCreate, principal: Principal, config: BrokerConfig, files: FileStore) -> float:
    """Every check on the request itself; returns the completion window in seconds."""
    meta = await files.fields(body.input_file_id, principal.team)
    if meta["purpose"] != "batch":
        raise InvalidRequest("input_file_id: the file was not uploaded with purpose 'batch'", param="input_file_id")
    window = completion_window_s(body.completion_window)
    if window > config.batches.max_completion_window_s:
        limit = config.batches.max_completion_window_s
        raise InvalidRequest(f"completion_window: at most {limit:.0f} s", param="completion_window")
    team = (body.metadata or {}).get("team")
    if team is not None and team != principal.team:
        raise InvalidRequest(
            f"metadata.team: this key bills to team {principal.team!r}, not {team!r}", param="metadata.team"
        )
    await check_callback_url(body.callback_url, config.webhooks)
    return window


async def create_batch(
    body: BatchCreate,
    principal: Principal,
    config: BrokerConfig,
    redis: Redis,
    files: FileStore,
    resume: bool = False,
) -> tuple[BatchObject, bool]:
    """Create a batch and its jobs; returns (batch, created). With ``resume``, a batch this team
    already made from the same file content is returned instead of a new one (the CLI's resume)."""
    window = await check_create(body, principal, config, files)
    digest = file_digest(files.path(body.input_file_id))
    batches = BatchStore(redis)
    idem = keys.batch_idempotency(principal.team, digest)
    if resume:
        existing = await redis.get(idem)
        if existing is not None:
            batch_id = as_text(existing) or ""
            fields = await batches.raw(batch_id)
            if fields:
                if fields.get("expanded") != "1" and float(fields.get("validating_until") or 0) < time.time():
                    await expand(batch_id, config, redis, files)  # its creator died half way: finish the job
                return await batches.get(batch_id, principal.team), False
    now = time.time()
    batch_id = await batches.create(principal, body, window, now, config.batches.validating_lease_s, digest)
    await redis.set(idem, batch_id, ex=IDEMPOTENCY_TTL_S)
    await expand(batch_id, config, redis, files)
    return await batches.get(batch_id, principal.team), True


async def cancel_batch(batch_id: str, team: str, redis: Redis) -> BatchObject:
    """``cancelling`` now; the keeper cancels the jobs not started and ends it ``cancelled``."""
    batches = BatchStore(redis)
    fields = await batches.fields(batch_id, team)
    status = BatchStatus(fields["status"])
    if status in (BatchStatus.CANCELLING, BatchStatus.CANCELLED):
        return await batches.view(fields)
    if not await batches.transition(batch_id, CANCELLABLE, BatchStatus.CANCELLING, cancelling_at=time.time()):
        current = (await batches.fields(batch_id, team))["status"]
        raise Conflict(f"batch {batch_id} is {current} and can no longer be cancelled")
    await batches.due(batch_id, time.time())
    return await batches.get(batch_id, team)
