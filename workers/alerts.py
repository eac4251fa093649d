"""The budget alert sender: delivers the alerts ``fire_alert.lua`` queued, as signed
Standard Webhooks POSTs (optionally with a Slack-compatible body), at least once.

Alerts are read from a Redis stream through a consumer group and acknowledged only
after a 2xx, so a crashed sender redelivers; each alert keeps one ``webhook-id`` (the
alert's id) so receivers can drop duplicates. Failures are retried with exponential
backoff up to ``max_attempts``, then parked in a list for an operator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from broker import keys
from schemas.config import AlertsConfig
from workers.webhooks.signing import sign_headers

log = logging.getLogger("llm_broker.alerts")
GROUP = "alert-sender"
UNDELIVERED = f"{keys.ALERTS_STREAM}:undelivered"


def webhook_body(alert: dict[str, Any], fmt: str) -> str:
    """Standard Webhooks' ``{type, timestamp, data}``, or Slack's ``{text, blocks}``."""
    if fmt == "slack":
        return json.dumps(
            {
                "text": alert["message"],
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f":warning: {alert['message']}"}}],
                "metadata": {"event_type": alert["type"], "event_payload": alert},
            }
        )
    moment = datetime.fromtimestamp(alert["at"], UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": alert["type"], "timestamp": moment, "data": alert})


def backoff_s(attempts: int) -> float:
    """1, 2, 4, ... seconds, at most five minutes."""
    return float(min(300, 2 ** max(0, attempts - 1)))


@dataclass
class AlertSender:
    redis: Redis
    config: AlertsConfig
    consumer: str = "monitor"
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10.0))
    _attempts: dict[str, int] = field(default_factory=dict)
    _due: dict[str, float] = field(default_factory=dict)

    async def setup(self) -> None:
        try:
            await self.redis.xgroup_create(keys.ALERTS_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        if self.config.webhook_url and not os.environ.get(self.config.secret_env):
            log.error("alerts.webhook_url is set but %s is not: alerts are logged, not sent", self.config.secret_env)

    async def step(self, block_ms: int = 1000) -> int:
        """Deliver what is due: earlier failures whose backoff passed, then new alerts."""
        pending: Any = await self.redis.xreadgroup(GROUP, self.consumer, {keys.ALERTS_STREAM: "0"}, count=100)
        entries = list(pending[0][1]) if pending else []
        now = time.monotonic()
        due = [e for e in entries if self._due.get(_text(e[0]), 0.0) <= now]
        if not entries:
            fresh: Any = await self.redis.xreadgroup(
                GROUP, self.consumer, {keys.ALERTS_STREAM: ">"}, count=100, block=block_ms
            )
            due = list(fresh[0][1]) if fresh else []
        delivered = 0
        for entry_id, fields in due:
            delivered += await self._deliver(_text(entry_id), json.loads(fields[b"alert"]))
        if entries and not due:  # only backoffs pending: wait a little instead of spinning
            soonest = min(self._due.get(_text(e[0]), now) for e in entries)
            await asyncio.sleep(max(0.05, min(1.0, soonest - now)))
        return delivered

    async def _deliver(self, entry_id: str, alert: dict[str, Any]) -> int:
        url, secret = self.config.webhook_url, os.environ.get(self.config.secret_env)
        if not url or not secret:
            await self._done(entry_id)
            return 0
        body = webhook_body(alert, self.config.format)
        try:
            response = await self.client.post(
                url, content=body, headers=sign_headers(secret, alert["id"], body), timeout=self.config.timeout_s
            )
            ok, why = response.is_success, f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            ok, why = False, f"{type(exc).__name__}: {exc}"
        if ok:
            log.info("alert %s delivered to %s", alert["id"], url)
            await self._done(entry_id)
            return 1
        attempts = self._attempts.get(entry_id, 0) + 1
        self._attempts[entry_id] = attempts
        if attempts >= self.config.max_attempts:
            log.error(
                "alert %s undeliverable after %d attempts (%s); parked in %s", alert["id"], attempts, why, UNDELIVERED
            )
            await self.redis.lpush(UNDELIVERED, json.dumps({**alert, "error": why}))
            await self._done(entry_id)
        else:
            self._due[entry_id] = time.monotonic() + backoff_s(attempts)
            log.warning("alert %s not delivered (%s); attempt %d, retrying", alert["id"], why, attempts)
        return 0

    async def _done(self, entry_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.ALERTS_STREAM, GROUP, entry_id)
            pipe.xdel(keys.ALERTS_STREAM, entry_id)
            await pipe.execute()
        self._attempts.pop(entry_id, None)
        self._due.pop(entry_id, None)

    async def close(self) -> None:
        await self.client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
