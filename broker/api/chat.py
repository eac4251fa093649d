"""``POST /v1/chat/completions``: the OpenAI-compatible facade. Submits a job and waits for it;
with ``stream: true`` relays the provider's stream as the worker receives it.

The caller's ``model`` may name a model, a tier or ``auto``; the job then goes through the
same admission, routing, cache and budgets as any other. When admission would keep the
caller waiting longer than ``api.max_admission_wait_s``, the answer is 429 with
``Retry-After`` and nothing is stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from broker import keys
from broker.admission.estimate import admission_wait_s, retry_after_s
from broker.api.chat_chunks import chunk, closing_chunks, error_body, failed_status, model_or_tier, sse
from broker.api.deps import Caller, Services, services
from broker.api.dropin import dropin
from broker.api.token_hub import Delta, Event, Final, follow
from broker.errors import Throttled
from broker.jobstore.records import decode_hash, job_view
from broker.redis_clients import as_text
from broker.submit import enqueue, prepare_admissible
from schemas.chat import JobRequest
from schemas.job import FINAL_STATES, JobState

router = APIRouter(tags=["openai"])
JOB_HEADER = "x-llm-broker-job-id"


def _not_succeeded(fields: dict[str, str]) -> JSONResponse:
    view = job_view(fields)
    headers = {JOB_HEADER: view.id}
    if view.state is JobState.CANCELLED:
        return JSONResponse(error_body(view.error or "cancelled", "cancelled", job_id=view.id), 409, headers=headers)
    status = failed_status(view.attempts)
    kind = "invalid_request_error" if status < 500 else "provider_error"
    return JSONResponse(error_body(view.error or "failed", kind, job_id=view.id), status, headers=headers)


def _timed_out(job_id: str) -> JSONResponse:
    message = f"the job did not finish in time; it goes on: GET /v1/jobs/{job_id}"
    return JSONResponse(error_body(message, "timeout", job_id=job_id), 504, headers={JOB_HEADER: job_id})


async def _submit(svc: Services, who: Caller, body: dict[str, Any]) -> tuple[str, JobRequest]:
    try:
        request = JobRequest.model_validate(model_or_tier(body, svc.config))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    job = await prepare_admissible(request, who, svc.config, svc.redis, time.time())
    wait = await admission_wait_s(svc.redis, svc.config, job)
    bound = svc.config.api.max_admission_wait_s
    if wait > bound:
        raise Throttled(
            f"admission would take about {wait:.0f} s for team {who.team}, longer than the {bound:g} s this "
            "endpoint waits; retry later or submit it as a job or batch",
            retry_after=retry_after_s(wait, bound),
        )
    job_id, _ = await enqueue(job, svc.config, svc.store, svc.cache)
    return job_id, request


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, who: Caller, body: Annotated[dict[str, Any], Body()]) -> Response:
    svc = services(request)
    job_id, job_request = await _submit(svc, who, body)
    if job_request.stream:
        return await _stream(request, svc, job_id, job_request)
    box: dict[str, dict[str, str]] = {}

    async def is_final() -> bool:
        box["fields"] = decode_hash(await svc.redis.hgetall(keys.job(job_id)))
        return JobState(box["fields"]["state"]) in FINAL_STATES

    if not await svc.waiters.wait(job_id, svc.config.api.max_wait_s, is_final):
        return _timed_out(job_id)
    fields = box["fields"]
    if fields["state"] != JobState.SUCCEEDED.value:
        return _not_succeeded(fields)
    return Response(fields["result"], media_type="application/json", headers={JOB_HEADER: job_id})


async def _stream(request: Request, svc: Services, job_id: str, job_request: JobRequest) -> Response:
    """Headers go out with the first token, so a job that fails before any text is still an
    ordinary HTTP error, as it would be from the provider."""
    events = follow(dropin(request).hub, svc.redis, svc.waiters, job_id, svc.config.api.max_wait_s)
    first = await anext(events, None)
    if first is None:
        return _timed_out(job_id)
    if isinstance(first, Final) and first.fields["state"] != JobState.SUCCEEDED.value:
        return _not_succeeded(first.fields)
    include_usage = bool(job_request.stream_options and job_request.stream_options.include_usage)
    body = _relay(svc, job_id, first, events, include_usage)
    return StreamingResponse(body, media_type="text/event-stream", headers={JOB_HEADER: job_id})


async def _relay(
    svc: Services, job_id: str, first: Event, events: AsyncIterator[Event], include_usage: bool
) -> AsyncIterator[bytes]:
    created = int(time.time())
    model = as_text(await svc.redis.hget(keys.job(job_id), "model")) or ""
    yield chunk(job_id, created, model, {"role": "assistant", "content": ""})
    sent: list[str] = []
    attempt: int | None = None
    event: Event | None = first
    while event is not None:
        if isinstance(event, Delta):
            if attempt is not None and event.attempt != attempt:  # a worker died mid-stream; its retry restarts
                yield sse(
                    error_body("the provider stream restarted on another attempt", "provider_error", job_id=job_id)
                )
                return
            attempt = event.attempt
            sent.append(event.text)
            yield chunk(job_id, created, model, {"content": event.text})
        elif isinstance(event, Final):
            fields = event.fields
            if fields["state"] != JobState.SUCCEEDED.value:
                yield sse(error_body(fields.get("error") or "failed", "provider_error", job_id=job_id))
                return
            result = json.loads(fields["result"])
            text = result["choices"][0]["message"]["content"] or ""
            so_far = "".join(sent)
            if text.startswith(so_far) and len(text) > len(so_far):  # e.g. a cache hit: nothing was streamed
                yield chunk(job_id, created, result["model"], {"content": text[len(so_far) :]})
            for part in closing_chunks(
                job_id,
                created,
                result["model"],
                result["choices"][0]["finish_reason"] or "stop",
                result["usage"],
                include_usage,
            ):
                yield part
            return
        event = await anext(events, None)
    yield sse(
        error_body(f"the job did not finish in time; it goes on: GET /v1/jobs/{job_id}", "timeout", job_id=job_id)
    )
