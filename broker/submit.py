"""Accepting a job: route it, count its tokens, refuse what can never run, store and enqueue it."""

from __future__ import annotations

import time

from broker.auth import Principal
from broker.budgets.enforce import enforce_budget
from broker.errors import Forbidden, InvalidRequest
from broker.jobstore.records import NewJob, new_job_id
from broker.jobstore.store import JobStore
from broker.routing import candidate_models
from broker.tokens import count_input_tokens
from schemas.chat import JobRequest
from schemas.config import BrokerConfig


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
    request: JobRequest, principal: Principal, config: BrokerConfig, store: JobStore
) -> tuple[str, bool]:
    """Returns (job id, created); ``created`` is False when an idempotency key matched."""
    now = time.time()
    job = prepare_job(request, principal, config, now)
    job = await enforce_budget(job, config, store.redis, now)
    return await store.create(job, request.idempotency_key)
