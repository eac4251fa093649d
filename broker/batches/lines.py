"""Pure parsing of a batch input file's lines into job requests, or errors naming the line.

A line is ``{"custom_id", "method", "url", "body"}``; ``body`` is a chat-completions request
(the broker's ``JobRequest``). The batch's ``metadata`` is the default for every line's
``metadata`` (a line's own keys win), which is how ``feature`` reaches the ledger.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.batch import CHAT_ENDPOINT
from schemas.chat import JobRequest

# batch metadata keys that describe the batch, not its lines
_BATCH_ONLY_METADATA = frozenset({"team", "callback_url"})


@dataclass(frozen=True)
class LineError:
    line: int
    custom_id: str | None
    param: str | None
    message: str  # "line 17: body.messages: Field required"
    code: str = "invalid_request"

    def to_json(self) -> str:
        return json.dumps(
            {
                "line": self.line,
                "custom_id": self.custom_id,
                "param": self.param,
                "message": self.message,
                "code": self.code,
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> LineError:
        data = json.loads(raw)
        return cls(data["line"], data.get("custom_id"), data.get("param"), data["message"], data.get("code", ""))


@dataclass(frozen=True)
class BatchLine:
    line: int
    custom_id: str
    request: JobRequest


def loc_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("messages", 0, "role")`` → ``messages[0].role``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
    return path


def line_error(
    line: int, custom_id: str | None, param: str | None, message: str, code: str = "invalid_request"
) -> LineError:
    where = f"{param}: " if param else ""
    return LineError(line, custom_id, param, f"line {line}: {where}{message}", code)


def _validation_error(line: int, custom_id: str | None, exc: ValidationError) -> LineError:
    first = exc.errors()[0]
    path = loc_path(first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    named = message.split(": ", 1)
    if not path and len(named) == 2 and named[0].replace("_", "").replace(".", "").isalnum():
        path, message = named  # whole-body validators name their field first ("tier: ...")
    return line_error(line, custom_id, f"body.{path}" if path else "body", message)


def with_batch_metadata(body: dict[str, Any], metadata: dict[str, str] | None) -> dict[str, Any]:
    """The line's body with the batch's metadata as defaults under its own."""
    if not metadata:
        return body
    inherited = {k: v for k, v in metadata.items() if k not in _BATCH_ONLY_METADATA}
    own = body.get("metadata")
    if own is not None and not isinstance(own, dict):
        return body  # let validation name the bad field
    return {**body, "metadata": {**inherited, **(own or {})}}


def parse_line(number: int, text: str, seen: set[str], metadata: dict[str, str] | None = None) -> BatchLine | LineError:
    """One input line; ``seen`` collects custom_ids, which must be unique within the file."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return line_error(number, None, None, f"not valid JSON ({exc})")
    if not isinstance(data, dict):
        return line_error(number, None, None, "a line must be a JSON object")
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return line_error(number, None, "custom_id", "a non-empty string is required")
    if custom_id in seen:
        return line_error(number, custom_id, "custom_id", f"duplicate custom_id {custom_id!r}")
    seen.add(custom_id)
    unknown = sorted(set(data) - {"custom_id", "method", "url", "body"})
    if unknown:
        return line_error(number, custom_id, unknown[0], "unknown field")
    if data.get("method", "POST") != "POST":
        return line_error(number, custom_id, "method", "must be POST")
    if data.get("url") != CHAT_ENDPOINT:
        return line_error(number, custom_id, "url", f"must be {CHAT_ENDPOINT} (the batch's endpoint)")
    body = data.get("body")
    if not isinstance(body, dict):
        return line_error(number, custom_id, "body", "a JSON object is required")
    if body.get("stream") is True:
        return line_error(number, custom_id, "body.stream", "batch requests cannot stream")
    try:
        request = JobRequest.model_validate(with_batch_metadata(body, metadata))
    except ValidationError as exc:
        return _validation_error(number, custom_id, exc)
    return BatchLine(number, custom_id, request)


def line_job_id(batch_id: str, created_at: float, line: int) -> str:
    """A batch line's job id: the format of ``new_job_id`` (sortable by time), derived from the
    batch and line so that expanding a batch twice finds the jobs it made the first time."""
    digest = hashlib.sha256(f"{batch_id}:{line}".encode()).hexdigest()[:16]
    return f"job_{int(created_at * 1000):012x}{digest}"


def completion_window_s(window: str) -> float:
    """``24h`` → 86400.0 (the SDK only sends ``24h``; shorter windows help tests and urgent work)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return float(int(window[:-1]) * units[window[-1]])
