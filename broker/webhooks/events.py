"""Webhook events: what is sent for a finished job or batch, and where their records live.

An event is named by its subject (``job:<id>`` or ``batch:<id>``), which is also its member
in the ``lb:webhooks:due`` schedule, and its ``webhook-id`` is derived from that name, so every
redelivery of one event carries the same id and receivers deduplicate on it. The payload
follows the Standard Webhooks convention ``{"type", "timestamp", "data"}``; ``data`` is the
job as ``GET /v1/jobs/{id}`` shows it, or the batch as ``GET /v1/batches/{id}`` does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from broker import keys
from broker.jobstore.records import decode_hash

EVENT_TTL_S = 30 * 86400  # delivered or dead events stay readable this long


def message_id(event_id: str) -> str:
    """``job:job_123`` → ``msg_job_123`` (stable across redeliveries)."""
    return "msg_" + event_id.split(":", 1)[1]


def event_type(kind: str, status: str) -> str:
    """``job.succeeded``, ``job.failed``, ``job.cancelled``; ``batch.completed``, ``batch.expired``..."""
    return f"{kind}.{status}"


def payload(kind: str, status: str, data: dict[str, Any], at: float) -> str:
    stamp = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event_type(kind, status), "timestamp": stamp, "data": data}, separators=(",", ":"))


def attempt_record(number: int, at: float, status: int | None, error: str | None, ms: float) -> str:
    return json.dumps({"attempt": number, "at": at, "status_code": status, "error": error, "duration_ms": round(ms, 1)})


async def history(redis: Redis, event_id: str) -> dict[str, Any] | None:
    """An event's state and every delivery attempt, for the API."""
    fields = decode_hash(await redis.hgetall(keys.webhook_event(event_id)))
    if not fields:
        return None
    attempts = [json.loads(a) for a in await redis.lrange(keys.webhook_attempts(event_id), 0, -1)]
    return {
        "id": message_id(event_id),
        "event": event_id,
        "type": fields.get("type"),
        "url": fields.get("url"),
        "state": fields.get("state"),
        "created_at": float(fields.get("created_at") or 0),
        "next_attempt_at": float(fields["next_at"]) if fields.get("next_at") else None,
        "delivered_at": float(fields["delivered_at"]) if fields.get("delivered_at") else None,
        "attempts": attempts,
    }
