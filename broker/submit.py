"""Accepting a job: route it, count its tokens, refuse what can never run, store and enqueue it."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

from broker.admission.limits import fitting_candidates
from broker.auth import Principal
from broker.budgets.enforce import enforce_budget
from broker.cache.dispatch import CacheSender
from broker.cache.policy import cache_plan
from broker.errors import Forbidden, InvalidRequest
from broker.health.store import Snapshot, shared_health_cache
from broker.jobstore.records import NewJob, new_job_id
from broker.jobstore.store import JobStore
from broker.prompts.compose import rendered_request
from broker.prompts.registry import PromptRegistry
from broker.router import RouterSettings, route
from broker.routing import candidate_models, resolve_tier
from broker.tokens import count_input_tokens
from broker.webhooks.callbacks import check_callback_url
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


def prepare_job(
    request: JobRequest,
    principal: Principal,
    config: BrokerConfig,
    now: float,
    job_id: str | None = None,
    template: tuple[str, int] | None = None,
    health: Snapshot | None = None,
) -> NewJob:
    """Every check that needs no I/O; raises before anything is stored. A template job
    arrives here already rendered (``render_prompt``), with its (template id, version).
    With a ``health`` snapshot the candidates are ordered by the router (``broker.router``)."""
    if principal.team not in config.teams:
        raise Forbidden(f"team {principal.team!r} is not configured on this broker")
    if request.prompt is not None:
        raise InvalidRequest("prompt: the prompt template was not rendered", param="prompt")
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
    preferred = list(candidates)
    if health is not None and len(candidates) > 1:
        order = route(candidates, health, now * 1000, RouterSettings.from_config(config), request.latency_sla_ms).order
        by_model = dict(zip(candidates, candidate_tokens, strict=True))
        candidates, candidate_tokens = list(order), [by_model[m] for m in order]
    return NewJob(
        id=job_id or new_job_id(now),
        team=principal.team,
        user=principal.user,
        key_id=principal.key_id,
        request=request,
        candidates=candidates,
        candidate_tokens=candidate_tokens,
        created_at=now,
        template_id=template[0] if template else None,
        template_version=template[1] if template else None,
        tier=resolve_tier(request, config),
        preferred=preferred,
    )


async def render_prompt(
    request: JobRequest, principal: Principal, registry: PromptRegistry, job_id: str
) -> tuple[JobRequest, tuple[str, int] | None]:
    """A template job's request rendered into plain messages, with (template id, version);
    any other request as it is. Reads only: a bad reference or variable changes nothing."""
    if request.prompt is None:
        return request, None
    version = await registry.choose(principal.team, request.prompt, job_id)
    return rendered_request(request, version), (version.template_id, version.version)


async def prepare_submission(
    request: JobRequest,
    principal: Principal,
    config: BrokerConfig,
    registry: PromptRegistry,
    now: float,
    health: Snapshot | None = None,
) -> NewJob:
    """``prepare_job`` after rendering a template job; the job id comes first because a job
    without an experiment subject is assigned by its id."""
    if principal.team not in config.teams:
        raise Forbidden(f"team {principal.team!r} is not configured on this broker")
    await check_callback_url(request.callback_url, config.webhooks)
    job_id = new_job_id(now)
    request, template = await render_prompt(request, principal, registry, job_id)
    return prepare_job(request, principal, config, now, job_id=job_id, template=template, health=health)


async def prepare_admissible(
    request: JobRequest, principal: Principal, config: BrokerConfig, redis: Redis, now: float
) -> NewJob:
    """Everything decided before a job is stored: rendered, routed (around unhealthy models),
    counted, within its budget (refused or downgraded by the team's policy)."""
    health = await shared_health_cache(redis, config).get()
    job = await prepare_submission(request, principal, config, PromptRegistry(redis), now, health)
    return await enforce_budget(job, config, redis, now)


async def submit_job(
    request: JobRequest, principal: Principal, config: BrokerConfig, store: JobStore, cache: CacheSender | None = None
) -> tuple[str, bool]:
    """Returns (job id, created); ``created`` is False when an idempotency key matched."""
    job = await prepare_admissible(request, principal, config, store.redis, time.time())
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
