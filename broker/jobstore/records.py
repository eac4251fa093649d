"""Pure conversions between job records (Redis hash fields) and the API's models."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.chat import JobRequest
from schemas.job import Attempt, CacheInfo, JobState, JobView
from schemas.result import ChatCompletion
from schemas.usage import UsageRecord

JOB_TTL_S = 7 * 24 * 3600  # finished jobs stay readable for a week


def new_job_id(now: float | None = None) -> str:
    """Sortable by creation time, unguessable, and short enough to read in logs."""
    millis = int((time.time() if now is None else now) * 1000)
    return f"job_{millis:012x}{secrets.token_hex(8)}"


def queue_score(priority: int, created_at: float) -> float:
    """Higher priority first, then first come first served (exact in a double until year 2255)."""
    return -priority * 1e13 + int(created_at * 1000)


@dataclass(frozen=True)
class NewJob:
    id: str
    team: str
    user: str
    key_id: str
    request: JobRequest
    candidates: list[str]
    candidate_tokens: list[int]  # input tokens as each candidate's tokenizer counts them
    created_at: float
    template_id: str | None = None  # owner/name of the prompt template the job was rendered from
    template_version: int | None = None
    batch_id: str | None = None  # the batch the job is a line of, and that line's custom_id
    custom_id: str | None = None
    tier: str | None = None  # the tier the job is routed by (classified for tier: auto); None: a named model
    preferred: list[str] | None = None  # the routing table's order, before health reordered it

    @property
    def input_tokens(self) -> int:
        return self.candidate_tokens[0]

    def fields(self) -> dict[str, str | int | float]:
        template: dict[str, str | int | float] = (
            {"template_id": self.template_id, "template_version": self.template_version}
            if self.template_id is not None and self.template_version is not None
            else {}
        )
        routing: dict[str, str | int | float] = {}
        if self.tier is not None:
            routing["tier"] = self.tier
        if self.request.latency_sla_ms is not None:
            routing["latency_sla_ms"] = self.request.latency_sla_ms
        if self.preferred is not None:
            routing["preferred"] = json.dumps(self.preferred)
        return {
            "id": self.id,
            "team": self.team,
            "user": self.user,
            "key_id": self.key_id,
            "feature": self.request.metadata.feature,
            "state": JobState.QUEUED.value,
            "request": self.request.model_dump_json(exclude_none=True),
            "candidates": json.dumps(self.candidates),
            "n_candidates": len(self.candidates),
            "cursor": 0,
            "attempt": 0,
            "attempts": "[]",
            "input_tokens": self.input_tokens,
            "candidate_tokens": json.dumps(self.candidate_tokens),
            "max_tokens": self.request.output_cap() or "",
            "priority": self.request.priority,
            "queue_score": queue_score(self.request.priority, self.created_at),
            "created_at": self.created_at,
            "updated_at": self.created_at,
            **template,
            **self.extra_fields(),
            **routing,
        }

    def extra_fields(self) -> dict[str, str | int | float]:
        """Fields only some jobs have: a webhook URL, the batch and line the job belongs to."""
        extra: dict[str, str | int | float] = {}
        if self.request.callback_url:
            extra["callback_url"] = self.request.callback_url
        if self.batch_id is not None:
            extra["batch_id"] = self.batch_id
            extra["custom_id"] = self.custom_id or ""
        return extra


def decode_hash(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()
    }


def pairs_to_dict(flat: list[bytes | str]) -> dict[str, str]:
    """A Lua-returned HGETALL (flat field, value, ...) as a dict."""
    items = [item.decode() if isinstance(item, bytes) else item for item in flat]
    return dict(zip(items[0::2], items[1::2], strict=True))


def job_view(fields: dict[str, str]) -> JobView:
    result = fields.get("result") or ""
    usage = fields.get("usage") or ""
    return JobView(
        id=fields["id"],
        state=JobState(fields["state"]),
        team=fields["team"],
        user=fields["user"],
        created_at=float(fields["created_at"]),
        updated_at=float(fields["updated_at"]),
        model=fields.get("model") or None,
        candidates=json.loads(fields["candidates"]),
        feature=fields["feature"],
        input_tokens=int(fields["input_tokens"]),
        attempts=[Attempt.model_validate(a) for a in json.loads(fields.get("attempts") or "[]")],
        result=ChatCompletion.model_validate_json(result) if result else None,
        usage=UsageRecord.model_validate_json(usage) if usage else None,
        error=fields.get("error") or None,
        template_id=fields.get("template_id") or None,
        template_version=int(fields["template_version"]) if fields.get("template_version") else None,
        cache=CacheInfo.model_validate_json(fields["cache"]) if fields.get("cache") else None,
        batch_id=fields.get("batch_id") or None,
        custom_id=fields.get("custom_id") or None,
        tier=fields.get("tier") or None,
    )
