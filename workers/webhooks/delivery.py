"""The webhook worker: delivers due events, signed, and retries without holding anything.

Retries live in the Redis zset ``lb:webhooks:due`` (event -> due ms), claimed under a lease
(``broker.duequeue``), not in Celery countdowns: with a Redis transport a countdown task sits
unacknowledged in a worker's memory and is redelivered after the visibility timeout (an
hour), which duplicates and loses track of 24-hour schedules. Here a pending retry costs one
zset entry, survives any restart, and any number of webhook workers can share the work.
Each process holds up to ``webhooks.max_in_flight`` deliveries on one event loop, apart from
the provider workers, so a slow receiver never delays a provider call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from broker import keys
from broker.batches.store import BatchStore
from broker.duequeue import DueQueue
from broker.jobstore.records import decode_hash, job_view
from broker.webhooks.events import EVENT_TTL_S, attempt_record, message_id, payload
from broker.webhooks.secrets import TeamSecrets, master_key
from schemas.config import BrokerConfig
from workers.webhooks.resolver import GuardedResolver
from workers.webhooks.schedule import next_attempt_at, retry_delay_s
from workers.webhooks.signing import sign_headers

log = logging.getLogger(__name__)
MAX_RESPONSE_BYTES = 4096


async def build_event(redis: Redis, event_id: str, now: float) -> dict[str, str] | None:
    """The event's record, made on its first delivery from the finished job or batch (so the
    payload is fixed once and every retry sends the same bytes). None: nothing to send."""
    key = keys.webhook_event(event_id)
    existing = decode_hash(await redis.hgetall(key))
    if existing:
        return existing
    kind, subject = event_id.split(":", 1)
    if kind == "job":
        fields = decode_hash(await redis.hgetall(keys.job(subject)))
        if not fields or not fields.get("callback_url"):
            return None
        view = job_view(fields)
        team, url, status = view.team, fields["callback_url"], view.state.value
        body = payload("job", status, view.model_dump(mode="json"), now)
    else:
        store = BatchStore(redis)
        fields = await store.raw(subject)
        if not fields or not fields.get("callback_url"):
            return None
        team, url, status = fields["team"], fields["callback_url"], fields["status"]
        body = payload("batch", status, (await store.view(fields)).model_dump(mode="json"), now)
    record = {
        "id": event_id,
        "team": team,
        "url": url,
        "type": f"{kind}.{status}",
        "payload": body,
        "state": "pending",
        "attempts": "0",
        "created_at": str(now),
    }
    await redis.hset(key, mapping=dict[Any, Any](record))  # one claimer at a time holds an event (leased)
    return record


class WebhookWorker:
    def __init__(self, redis: Redis, config: BrokerConfig, home: Path) -> None:
        self.redis = redis
        self.config = config.webhooks
        self.due = DueQueue(redis, keys.WEBHOOKS_DUE)
        self.secrets = TeamSecrets(redis, self.config, master_key(self.config, home))
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.config), limit=self.config.max_in_flight)
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            while not stop.is_set():
                room = self.config.max_in_flight - self._in_flight
                claimed: list[str] = []
                if room > 0:
                    try:
                        claimed = await self.due.claim(min(room, 100), lease_s=self.config.timeout_s * 3 + 30)
                    except Exception:
                        log.exception("could not claim webhook deliveries")
                for event_id in claimed:
                    self._in_flight += 1
                    task = asyncio.create_task(self._deliver_safely(session, event_id))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                if not claimed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.config.poll_interval_s)
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self.config.timeout_s + 1)

    async def _deliver_safely(self, session: aiohttp.ClientSession, event_id: str) -> None:
        try:
            await self.deliver(session, event_id)
        except Exception:  # the lease brings it back
            log.exception("webhook %s failed in the worker", event_id)
        finally:
            self._in_flight -= 1

    async def deliver(self, session: aiohttp.ClientSession, event_id: str) -> None:
        now = time.time()
        event = await build_event(self.redis, event_id, now)
        if event is None or event.get("state") != "pending":
            await self.due.done(event_id)
            return
        number = int(event.get("attempts") or 0) + 1
        body = event["payload"]
        headers = sign_headers(await self.secrets.signing(event["team"]), message_id(event_id), body)
        headers["user-agent"] = "llm-broker-webhooks/1"
        status, error = await self._post(session, event["url"], body, headers)
        finished = time.time()
        key = keys.webhook_event(event_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(
                keys.webhook_attempts(event_id), attempt_record(number, now, status, error, (finished - now) * 1000)
            )
            pipe.hset(key, mapping={"attempts": number, "last_error": error or ""})
            await pipe.execute()
        if status is not None and 200 <= status < 300:
            await self._close(event_id, event, {"state": "delivered", "delivered_at": finished, "next_at": ""})
            return
        delay = retry_delay_s(number, self.config.retry_base_s, self.config.retry_cap_s)
        at = next_attempt_at(float(event["created_at"]), finished, delay, self.config.retry_window_s)
        if at is None:
            log.warning("webhook %s given up after %d attempts: %s", event_id, number, error)
            await self._close(event_id, event, {"state": "dead", "dead_at": finished, "next_at": ""})
            await self.redis.zadd(keys.team_dead_letters(event["team"]), {event_id: int(finished * 1000)})
            return
        await self.redis.hset(key, "next_at", at)
        await self.due.schedule(event_id, at)

    async def _close(self, event_id: str, event: dict[str, str], fields: dict[str, Any]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.webhook_event(event_id), mapping=dict[Any, Any](fields))
            pipe.expire(keys.webhook_event(event_id), EVENT_TTL_S)
            pipe.expire(keys.webhook_attempts(event_id), EVENT_TTL_S)
            pipe.zrem(keys.WEBHOOKS_DUE, event_id)
            await pipe.execute()

    async def _post(
        self, session: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        try:
            async with session.post(url, data=body.encode(), headers=headers, allow_redirects=False) as response:
                text = (await response.content.read(MAX_RESPONSE_BYTES)).decode(errors="replace")
                if 200 <= response.status < 300:
                    return response.status, None
                return response.status, f"HTTP {response.status}: {text[:200]}"
        except TimeoutError:
            return None, f"timeout after {self.config.timeout_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
