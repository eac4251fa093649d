"""The fields of a job record the cache worker needs, read once per task."""

from __future__ import annotations

import json
from dataclasses import dataclass

from schemas.chat import JobRequest
from schemas.result import ChatCompletion
from schemas.usage import UsageRecord


@dataclass(frozen=True)
class CachedJob:
    id: str
    team: str
    user: str
    key_id: str
    feature: str
    state: str
    stage: str
    candidates: list[str]
    input_tokens: int
    created_at: float
    request: JobRequest
    model: str
    result: ChatCompletion | None
    usage: UsageRecord | None

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> CachedJob:
        result, usage = fields.get("result") or "", fields.get("usage") or ""
        return cls(
            id=fields["id"],
            team=fields["team"],
            user=fields["user"],
            key_id=fields["key_id"],
            feature=fields["feature"],
            state=fields["state"],
            stage=fields.get("stage") or "",
            candidates=json.loads(fields["candidates"]),
            input_tokens=int(fields["input_tokens"]),
            created_at=float(fields["created_at"]),
            request=JobRequest.model_validate_json(fields["request"]),
            model=fields.get("model") or "",
            result=ChatCompletion.model_validate_json(result) if result else None,
            usage=UsageRecord.model_validate_json(usage) if usage else None,
        )
