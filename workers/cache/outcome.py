"""Pure assembly of what a cache hit leaves behind: the result and the usage record.

A hit is a job like any other: an OpenAI-shaped result (the cached answer, with the token
counts the call would have had) and a usage record for the ledger with ``cache_hit``, no
provider tokens, no cost, and ``saved_usd``: what the job's first candidate would have
charged for this prompt and the cached answer's real completion tokens.
"""

from __future__ import annotations

from broker.cache.entries import CacheEntry
from broker.pricing import cost_usd
from schemas.config import BrokerConfig
from schemas.result import AssistantMessage, ChatCompletion, Choice, CompletionUsage
from schemas.usage import UsageRecord
from workers.cache.job import CachedJob


def hit_result(job: CachedJob, entry: CacheEntry, created: int) -> ChatCompletion:
    return ChatCompletion(
        id="chatcmpl-" + job.id.removeprefix("job_"),
        created=created,
        model=entry.model,
        choices=[Choice(message=AssistantMessage(content=entry.answer), finish_reason="stop")],
        usage=CompletionUsage(
            prompt_tokens=job.input_tokens,
            completion_tokens=entry.completion_tokens,
            total_tokens=job.input_tokens + entry.completion_tokens,
        ),
    )


def saved_usd(job: CachedJob, entry: CacheEntry, config: BrokerConfig) -> float:
    price = config.models[job.candidates[0]].price
    return cost_usd(price, job.input_tokens, entry.completion_tokens)


def hit_usage(job: CachedJob, entry: CacheEntry, config: BrokerConfig, finished_at: float) -> UsageRecord:
    return UsageRecord(
        job_id=job.id,
        attempt=0,
        team=job.team,
        user=job.user,
        key_id=job.key_id,
        feature=job.feature,
        provider=None,
        model=entry.model,
        state="succeeded",
        input_tokens=0,
        output_tokens=0,
        cached_tokens=0,
        cost_usd=0.0,
        saved_usd=saved_usd(job, entry, config),
        latency_ms=max(0.0, (finished_at - job.created_at) * 1000),
        cache_hit=True,
        template_id=entry.template_id,
        template_version=entry.template_version,
        created_at=job.created_at,
        finished_at=finished_at,
    )
