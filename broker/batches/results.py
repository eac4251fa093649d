"""Pure rendering of a batch's output and error files, in OpenAI's line format.

Output: ``{"id", "custom_id", "response": {"status_code": 200, "request_id", "body"}, "error": null}``
per succeeded line. Errors: a failed job keeps the provider's status and message in
``response``; a line that never ran has ``response: null`` and ``error: {code, message}``
(``invalid_request`` naming the line, ``batch_expired``, ``batch_cancelled``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from broker.batches.lines import LineError

EXPIRED_REASON = "expired: the batch's completion window ended before the job started"
CANCELLED_REASON = "cancelled with its batch before the job started"
NEVER_CREATED = "cancelled with its batch before the job was created"


@dataclass(frozen=True)
class LineOutcome:
    """One line's end: where it goes (``output`` or ``error``) and its JSON line."""

    line: int
    kind: str  # output | error
    text: str


def request_id(job_id: str) -> str:
    return "batch_req_" + job_id.removeprefix("job_")


def _line(rid: str, custom_id: str | None, response: dict[str, Any] | None, error: dict[str, Any] | None) -> str:
    return json.dumps({"id": rid, "custom_id": custom_id, "response": response, "error": error})


def invalid_line(error: LineError) -> LineOutcome:
    body = {"code": error.code, "message": error.message, "param": error.param, "line": error.line}
    return LineOutcome(error.line, "error", _line(f"batch_req_line{error.line}", error.custom_id, None, body))


def _status_code(attempts_json: str) -> int:
    """The last provider status a failed job saw (5xx when the chain died on outages)."""
    codes = [a.get("status_code") for a in json.loads(attempts_json or "[]") if a.get("status_code")]
    return int(codes[-1]) if codes else 500


def cancelled_code(reason: str) -> str:
    if reason.startswith("expired"):
        return "batch_expired"
    if reason in (CANCELLED_REASON, NEVER_CREATED):
        return "batch_cancelled"
    return "cancelled"


def job_line(line: int, job_id: str, custom_id: str, job: dict[str, str] | None) -> LineOutcome:
    """A line that became a job: its result, its provider error, or why it never ran."""
    rid = request_id(job_id)
    if not job:
        error = {"code": "batch_cancelled", "message": NEVER_CREATED}
        return LineOutcome(line, "error", _line(rid, custom_id, None, error))
    state = job.get("state")
    if state == "succeeded":
        response = {"status_code": 200, "request_id": job_id, "body": json.loads(job["result"])}
        return LineOutcome(line, "output", _line(rid, custom_id, response, None))
    if state == "failed":
        status = _status_code(job.get("attempts", "[]"))
        body = {
            "error": {
                "message": job.get("error") or "failed",
                "type": "provider_error" if status >= 500 else "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
        response = {"status_code": status, "request_id": job_id, "body": body}
        return LineOutcome(line, "error", _line(rid, custom_id, response, None))
    reason = job.get("error") or "cancelled"
    return LineOutcome(line, "error", _line(rid, custom_id, None, {"code": cancelled_code(reason), "message": reason}))


def split_files(outcomes: list[LineOutcome]) -> tuple[list[str], list[str]]:
    """Output and error lines, each in input-line order."""
    ordered = sorted(outcomes, key=lambda o: o.line)
    return [o.text for o in ordered if o.kind == "output"], [o.text for o in ordered if o.kind == "error"]
