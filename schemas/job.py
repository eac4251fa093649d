"""Job state as the API shows it: lifecycle, attempts, result and usage."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.result import ChatCompletion
from schemas.usage import UsageRecord


class JobState(StrEnum):
    QUEUED = "queued"
    ADMITTED = "admitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class Attempt(BaseModel):
    """One try on one provider model; a job collects one per dispatch."""

    number: int = Field(ge=1)
    provider: str
    model: str
    started_at: float | None = None
    finished_at: float | None = None
    latency_ms: float | None = None
    outcome: str = "running"  # running | succeeded | failed | retryable | worker_lost
    error: str | None = None
    template_id: str | None = None
    template_version: int | None = None
    status_code: int | None = None


class CacheInfo(BaseModel):
    """What the cache did for a job: a hit (which layer, how similar) or why it was not one."""

    hit: bool
    layer: str | None = None  # exact | semantic
    similarity: float | None = None
    entry: str | None = None
    reason: str | None = None


class JobAccepted(BaseModel):
    id: str
    object: str = "job"
    state: JobState
    created_at: float
    candidates: list[str]
    input_tokens: int


class JobView(BaseModel):
    id: str
    object: str = "job"
    state: JobState
    team: str
    user: str
    created_at: float
    updated_at: float
    model: str | None = None
    candidates: list[str]
    feature: str
    input_tokens: int
    attempts: list[Attempt] = Field(default_factory=list)
    result: ChatCompletion | None = None
    usage: UsageRecord | None = None
    error: str | None = None
    template_id: str | None = None
    template_version: int | None = None
    cache: CacheInfo | None = None
    batch_id: str | None = None
    custom_id: str | None = None
    tier: str | None = None  # the tier the job was routed by (classified for tier: auto)
