"""The usage record: one row in the ledger per finished job (succeeded, failed or cache hit)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UsageRecord(BaseModel):
    job_id: str
    attempt: int = Field(ge=0, description="attempts made; 0 when no provider was called")
    team: str
    user: str
    key_id: str
    feature: str
    provider: str | None
    model: str | None
    state: str
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cached_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    saved_usd: float = Field(default=0.0, ge=0)
    latency_ms: float = Field(default=0.0, ge=0)
    routing_saved_usd: float = Field(default=0.0, ge=0, description="vs the tier's top model")
    cache_hit: bool = False
    tier: str | None = None
    template_id: str | None = None
    template_version: int | None = None
    batch_id: str | None = None
    created_at: float
    finished_at: float
