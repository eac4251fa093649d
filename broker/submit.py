"""Accepting a job: route it, count its tokens, refuse what can never run, store and enqueue it."""

from __future__ import annotations

import time

from broker.admission.limits import fitting_candidates
from broker.auth import Principal
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
    routed = candidate_models(request, config)
    by_tokenizer: dict[str, int] = {}
    for model in routed:
        tokenizer = config.models[model].tokenizer
        if tokenizer not in by_tokenizer:
            by_tokenizer[tokenizer] = count_input_tokens(request.chat(), tokenizer)
    tokens = [by_tokenizer[config.models[model].tokenizer] for model in routed]
    check_fits_context(tokens[0], request.output_cap(), routed[0], config.models[routed[0]].context_window)
    candidates, candidate_tokens = fitting_candidates(
        config, principal.team, principal.key_id, routed, tokens, request.output_cap()
    )
    return NewJob(
        id=new_job_id(now),
        team=principal.team,
        user=principal.user,
        key_id=principal.key_id,
        request=request,
        candidates=candidates,
        candidate_tokens=candidate_tokens,
        created_at=now,
    )


async def submit_job(
    request: JobRequest, principal: Principal, config: BrokerConfig, store: JobStore
) -> tuple[str, bool]:
    """Returns (job id, created); ``created`` is False when an idempotency key matched."""
    job = prepare_job(request, principal, config, time.time())
    return await store.create(job, request.idempotency_key)
