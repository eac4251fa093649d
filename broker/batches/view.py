"""Pure rendering of a batch record (its Redis hash and counters) as the OpenAI ``Batch`` object."""

from __future__ import annotations

import json

from schemas.batch import (
    BatchError,
    BatchErrors,
    BatchObject,
    BatchProgress,
    BatchStatus,
    BatchUsage,
    InputTokensDetails,
    RequestCounts,
)

COUNTERS = ("jobs", "succeeded", "failed", "cancelled", "input_tokens", "output_tokens", "cached_tokens", "cost_usd")
TIMESTAMPS = (
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


def counter_fields(batch_id: str) -> list[str]:
    """The batch's fields in the shared counters hash, in ``COUNTERS`` order."""
    return [f"{batch_id}:{name}" for name in COUNTERS]


def counts_from(values: list[bytes | str | None]) -> dict[str, float]:
    """HMGET answers of ``counter_fields`` as numbers (missing: 0)."""
    out = {}
    for name, value in zip(COUNTERS, values, strict=True):
        raw = value.decode() if isinstance(value, bytes) else value
        out[name] = float(raw) if raw else 0.0
    return out


def _int(fields: dict[str, str], name: str) -> int | None:
    value = fields.get(name)
    return int(float(value)) if value else None


def batch_object(fields: dict[str, str], live: dict[str, float]) -> BatchObject:
    """``live`` are the counters while the batch runs; a finalized batch carries its own."""
    counts = json.loads(fields["final_counts"]) if fields.get("final_counts") else live
    lines = int(fields.get("n_lines") or 0)
    invalid = int(fields.get("n_invalid") or 0)
    succeeded = int(counts.get("succeeded", 0))
    failed = int(counts.get("failed", 0))
    cancelled = int(counts.get("cancelled", 0))
    jobs = int(counts.get("jobs", 0))
    errors = json.loads(fields["errors"]) if fields.get("errors") else []
    input_tokens = int(counts.get("input_tokens", 0))
    output_tokens = int(counts.get("output_tokens", 0))
    return BatchObject(
        id=fields["id"],
        endpoint=fields["endpoint"],
        errors=BatchErrors(data=[BatchError(**e) for e in errors]) if errors else None,
        input_file_id=fields["input_file_id"],
        completion_window=fields["completion_window"],
        status=BatchStatus(fields["status"]),
        output_file_id=fields.get("output_file_id") or None,
        error_file_id=fields.get("error_file_id") or None,
        created_at=int(float(fields["created_at"])),
        request_counts=RequestCounts(total=lines, completed=succeeded, failed=failed + cancelled + invalid),
        metadata=json.loads(fields["metadata"]) if fields.get("metadata") else None,
        usage=BatchUsage(
            input_tokens=input_tokens,
            input_tokens_details=InputTokensDetails(cached_tokens=int(counts.get("cached_tokens", 0))),
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        ),
        progress=BatchProgress(
            queued=max(0, jobs - succeeded - failed - cancelled),
            succeeded=succeeded,
            failed=failed,
            cancelled=cancelled,
            invalid=invalid,
            cost_usd=round(float(counts.get("cost_usd", 0.0)), 8),
        ),
        **{name: _int(fields, name) for name in TIMESTAMPS},  # type: ignore[arg-type]
    )
