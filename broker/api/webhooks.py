"""Webhooks in the API: the team's signing secret, delivery history of a job or batch, and
the dead letters (events given up after the retry window), which can be sent again."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from broker import keys
from broker.api.deps import Caller, services
from broker.batches.store import BatchStore
from broker.errors import NotFound
from broker.redis_clients import as_texts
from broker.settings import home_dir
from broker.webhooks.events import history
from broker.webhooks.secrets import TeamSecrets, master_key

router = APIRouter(tags=["webhooks"])


def _secrets(request: Request) -> TeamSecrets:
    config = services(request).config.webhooks
    return TeamSecrets(services(request).redis, config, master_key(config, home_dir()))


@router.get("/v1/webhooks/secret")
async def get_secret(request: Request, who: Caller) -> JSONResponse:
    """The secret deliveries to this team are signed with (verify with any Standard Webhooks library)."""
    return JSONResponse({"team": who.team, "secret": await _secrets(request).current(who.team)})


@router.post("/v1/webhooks/secret/rotate")
async def rotate_secret(request: Request, who: Caller) -> JSONResponse:
    """A new secret; the previous one keeps signing too for ``webhooks.rotation_grace_s``."""
    return JSONResponse({"team": who.team, "secret": await _secrets(request).rotate(who.team)})


async def _history_or_404(request: Request, event_id: str, what: str) -> JSONResponse:
    found = await history(services(request).redis, event_id)
    if found is None:
        due = await services(request).redis.zscore(keys.WEBHOOKS_DUE, event_id)
        if due is None:
            raise NotFound(f"{what} has no webhook deliveries", param="callback_url")
        found = {"event": event_id, "state": "pending", "attempts": [], "next_attempt_at": due / 1000}
    return JSONResponse(found)


@router.get("/v1/jobs/{job_id}/webhooks")
async def job_deliveries(job_id: str, request: Request, who: Caller) -> JSONResponse:
    await services(request).store.fields(job_id, who.team)
    return await _history_or_404(request, f"job:{job_id}", f"job {job_id}")


@router.get("/v1/batches/{batch_id}/webhooks")
async def batch_deliveries(batch_id: str, request: Request, who: Caller) -> JSONResponse:
    await BatchStore(services(request).redis).fields(batch_id, who.team)
    return await _history_or_404(request, f"batch:{batch_id}", f"batch {batch_id}")


@router.get("/v1/webhooks/dead_letters")
async def dead_letters(request: Request, who: Caller) -> JSONResponse:
    redis = services(request).redis
    ids = as_texts(await redis.zrevrange(keys.team_dead_letters(who.team), 0, 999))
    rows = [found for found in [await history(redis, event_id) for event_id in ids] if found is not None]
    return JSONResponse({"object": "list", "data": rows})


@router.post("/v1/webhooks/dead_letters/{message_id}/retry")
async def retry_dead_letter(message_id: str, request: Request, who: Caller) -> JSONResponse:
    """Send a dead letter again, with a fresh retry window; its history is kept."""
    redis = services(request).redis
    ids = as_texts(await redis.zrange(keys.team_dead_letters(who.team), 0, -1))
    event_id = next((i for i in ids if "msg_" + i.split(":", 1)[1] == message_id), None)
    if event_id is None:
        raise NotFound(f"no dead letter {message_id!r}", param="message_id")
    now = time.time()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.webhook_event(event_id), mapping={"state": "pending", "created_at": now, "next_at": now})
        pipe.persist(keys.webhook_event(event_id))
        pipe.persist(keys.webhook_attempts(event_id))
        pipe.zrem(keys.team_dead_letters(who.team), event_id)
        pipe.zadd(keys.WEBHOOKS_DUE, {event_id: int(now * 1000)})
        await pipe.execute()
    return JSONResponse(await history(redis, event_id))
