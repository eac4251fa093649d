"""Pure assembly of what a finished job leaves behind: result, usage record, attempt record."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from broker.pricing import cost_at
from schemas.config import ModelConfig
from schemas.job import Attempt
from schemas.result import AssistantMessage, ChatCompletion, Choice, CompletionUsage, PromptTokensDetails
from schemas.usage import UsageRecord
from workers.providers.base import ProviderReply


@dataclass(frozen=True)
class RunningJob:
    """The fields of a claimed job record that running it needs."""

    id: str
    team: str
    user: str
    key_id: str
    feature: str
    model: str
    provider: str
    attempt: int
    created_at: float
    request_json: str
    reservation: str  # JSON of the token buckets reserved at admission (settled at the end)
    template_id: str | None = None  # set on jobs rendered from a prompt template
    template_version: int | None = None
    batch_id: str | None = None  # set on the lines of a batch; carried to the usage record
    # routing and fallback: the chain as stored, where the job is on it, and its bounds
    candidates: list[str] = field(default_factory=list)
    candidate_tokens: list[int] = field(default_factory=list)
    cursor: int = 0
    cooldowns: dict[str, float] = field(default_factory=dict)
    attempt_base: int = 0  # attempts made before the job's last dead-letter retry
    tier: str | None = None  # the tier the job was routed by (None: it named a model)

    @property
    def attempts_made(self) -> int:
        return self.attempt - self.attempt_base

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> RunningJob:
        return cls(
            id=fields["id"],
            team=fields["team"],
            user=fields["user"],
            key_id=fields["key_id"],
            feature=fields["feature"],
            model=fields["model"],
            provider=fields["provider"],
            attempt=int(fields["attempt"]),
            created_at=float(fields["created_at"]),
            request_json=fields["request"],
            reservation=fields.get("reservation", ""),
            template_id=fields.get("template_id") or None,
            template_version=int(fields["template_version"]) if fields.get("template_version") else None,
            batch_id=fields.get("batch_id") or None,
            candidates=json.loads(fields.get("candidates") or "[]"),
            candidate_tokens=json.loads(fields.get("candidate_tokens") or "[]"),
            cursor=int(fields.get("cursor") or 0),
            cooldowns=json.loads(fields.get("cooldowns") or "{}"),
            attempt_base=int(fields.get("attempt_base") or 0),
            tier=fields.get("tier") or None,
        )


def completion(job: RunningJob, reply: ProviderReply, created: int) -> ChatCompletion:
    return ChatCompletion(
        id="chatcmpl-" + job.id.removeprefix("job_"),
        created=created,
        model=job.model,
        choices=[Choice(message=AssistantMessage(content=reply.text), finish_reason=reply.finish_reason)],
        usage=CompletionUsage(
            prompt_tokens=reply.input_tokens,
            completion_tokens=reply.output_tokens,
            total_tokens=reply.input_tokens + reply.output_tokens,
            prompt_tokens_details=PromptTokensDetails(cached_tokens=reply.cached_tokens),
        ),
    )


def usage_record(
    job: RunningJob,
    state: str,
    finished_at: float,
    model: ModelConfig | None,
    reply: ProviderReply | None,
    *,
    tier: str | None = None,
    routing_saved_usd: float = 0.0,
) -> UsageRecord:
    """The ledger row of a finished job, priced at the rates in force when it finished.
    ``tier`` is the tier the job was routed by (default: the job's; None when it named a model)."""
    input_tokens = reply.input_tokens if reply else 0
    output_tokens = reply.output_tokens if reply else 0
    cached = reply.cached_tokens if reply else 0
    return UsageRecord(
        job_id=job.id,
        attempt=job.attempt,
        team=job.team,
        user=job.user,
        key_id=job.key_id,
        feature=job.feature,
        provider=job.provider,
        model=job.model,
        state=state,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached,
        cost_usd=cost_at(model.price, finished_at, input_tokens, output_tokens, cached) if model and reply else 0.0,
        routing_saved_usd=routing_saved_usd if reply else 0.0,
        tier=tier or job.tier,
        latency_ms=max(0.0, (finished_at - job.created_at) * 1000),
        template_id=job.template_id,
        template_version=job.template_version,
        batch_id=job.batch_id,
        created_at=job.created_at,
        finished_at=finished_at,
    )


def attempt_record(
    job: RunningJob,
    started: float,
    finished: float,
    error: str | None = None,
    status: int | None = None,
    outcome: str = "succeeded",
) -> Attempt:
    return Attempt(
        number=job.attempt,
        provider=job.provider,
        model=job.model,
        started_at=started,
        finished_at=finished,
        latency_ms=round((finished - started) * 1000, 3),
        outcome=outcome,
        error=error,
        status_code=status,
    )


def failure_summary(attempts_json: list[Attempt], reason: str = "all candidates failed") -> str:
    """One line naming every attempt, for a job whose candidates (or attempts) are exhausted."""
    parts = [f"#{a.number} {a.provider}/{a.model}: {a.error or a.outcome}" for a in attempts_json]
    return f"{reason}: " + "; ".join(parts)
