"""Pure rendering of the chat-completions facade's answers: OpenAI ``chat.completion.chunk``
SSE lines, the error shape, and the HTTP status a failed job maps to."""

from __future__ import annotations

import json
from typing import Any

from schemas.config import BrokerConfig
from schemas.job import Attempt


def chunk_id(job_id: str) -> str:
    """The same id the job's non-streamed result carries."""
    return "chatcmpl-" + job_id.removeprefix("job_")


def sse(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data, separators=(',', ':'))}\n\n".encode()


def chunk(
    job_id: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
) -> bytes:
    """One ``chat.completion.chunk``; ``delta`` None makes the usage-only chunk (no choices)."""
    body: dict[str, Any] = {
        "id": chunk_id(job_id),
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return sse(body)


def closing_chunks(
    job_id: str, created: int, model: str, finish_reason: str, usage: dict[str, Any], include_usage: bool
) -> list[bytes]:
    """The end of a stream: the finish chunk, the usage, ``[DONE]``. With
    ``stream_options.include_usage`` usage comes as OpenAI sends it (a last chunk with no
    choices); without, on the finish chunk, so the last chunk always carries it."""
    if include_usage:
        parts = [chunk(job_id, created, model, {}, finish_reason), chunk(job_id, created, model, None, usage=usage)]
    else:
        parts = [chunk(job_id, created, model, {}, finish_reason, usage=usage)]
    return [*parts, sse("[DONE]")]


def error_body(message: str, error_type: str, code: str | None = None, job_id: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": error_type, "param": None, "code": code}
    if job_id is not None:
        error["job_id"] = job_id
    return {"error": error}


def failed_status(attempts: list[Attempt]) -> int:
    """A job that failed: the provider's 4xx when it refused the request, else 502."""
    codes = [a.status_code for a in attempts if a.status_code]
    if codes and 400 <= codes[-1] < 500 and codes[-1] != 429:
        return 400 if codes[-1] in (400, 413, 422) else codes[-1]
    return 502


def model_or_tier(body: dict[str, Any], config: BrokerConfig) -> dict[str, Any]:
    """The caller's ``model`` as the job's ``model`` or ``tier`` (``simple``, ``standard``,
    ``complex``, ``auto``); a configured model of the same name wins."""
    name = body.get("model")
    if isinstance(name, str) and name not in config.models and name in ("simple", "standard", "complex", "auto"):
        return {**{k: v for k, v in body.items() if k != "model"}, "tier": name}
    return body
