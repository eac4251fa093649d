"""Accepting a job: route it, count its tokens, refuse what can never run, store and enqueue it."""

from __future__ import annotations

import logging
import time

from broker.auth import Principal
from broker.cache.dispatch import CacheSender
from broker.cache.policy import cache_plan
from broker.errors import Forbidden, InvalidRequest
from broker.jobstore.records import NewJob, new_job_id
from broker.jobstore.store import JobStore
from broker.routing import candidate_models
from broker.tokens import count_input_tokens
from schemas.chat import JobRequest
from schemas.config import BrokerConfig

log = logging.getLogger(__name__)


def check_fits_context(input_tokens: int, output_cap: int | None, model: str, context_window: int) -> None:
    if input_tokens + (output_cap or 0) > context_window:
        raise InvalidRequest(
            f"messages: {input_tokens} input tokens + max_tokens {output_cap or 0} exceed the "
            f"{context_window}-token context window of {model}",
            param="messages",
        )


def prepare_job(request: JobRequest, principal: Principal, config: BrokerConfig, now: float) -> NewJob:
    """Every check that needs no I/O; raises before anything is stored."""
    if principal.team not in config.teams:
        raise Forbidden(f"team {principal.team!r} is not configured on this broker")
    if request.prompt is not None:
        raise InvalidRequest("prompt: prompt templates are not enabled on this broker", param="prompt")
    candidates = candidate_models(request, config)
    first = config.models[candidates[0]]
    input_tokens = count_input_tokens(request.chat(), first.tokenizer)
    check_fits_context(input_tokens, request.output_cap(), candidates[0], first.context_window)
    return NewJob(
        id=new_job_id(now),
        team=principal.team,
        user=principal.user,
        key_id=principal.key_id,
        request=request,
        candidates=candidates,
        input_tokens=input_tokens,
        created_at=now,
    )


async def submit_job(
    request: JobRequest, principal: Principal, config: BrokerConfig, store: JobStore, cache: CacheSender | None = None
) -> tuple[str, bool]:
    """Returns (job id, created); ``created`` is False when an idempotency key matched."""
    job = prepare_job(request, principal, config, time.time())
    return await enqueue(job, config, store, cache)


async def enqueue(job: NewJob, config: BrokerConfig, store: JobStore, cache: CacheSender | None) -> tuple[str, bool]:
    """Store a prepared job: a cacheable one waits for a cache lookup before admission (a hit
    must take no tokens from the buckets), any other goes straight to its team queue."""
    lookup = cache is not None and cache_plan(job.request, config.cache).read
    job_id, created = await store.create(job, job.request.idempotency_key, cache_lookup=lookup)
    if created and lookup:
        assert cache is not None
        try:
            cache.lookup(job_id)
        except Exception:  # accepted all the same: the scheduler sends it on after the lookup timeout
            log.exception("could not send the cache lookup of job %s", job_id)
    return job_id, created
