"""What the batch keeper should do with a batch now: a pure function of its record and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.batch import BatchStatus


class Action(StrEnum):
    FORGET = "forget"  # final: nothing left to do
    WAIT = "wait"  # look again at ``at``
    EXPAND = "expand"  # its creator's lease lapsed while validating: create its jobs again
    SWEEP = "sweep"  # cancel the jobs not started yet (``reason`` says why), then check
    CHECK = "check"  # finalize if every line has ended, else look again at ``at``


@dataclass(frozen=True)
class Step:
    action: Action
    at: float | None = None
    reason: str | None = None  # for SWEEP: "cancelled" | "expired"


def plan(fields: dict[str, str], now: float, recheck_s: float) -> Step:
    status = BatchStatus(fields["status"])
    if status.final:
        return Step(Action.FORGET)
    expanded = fields.get("expanded") == "1"
    lease_end = float(fields.get("validating_until") or 0)
    if not expanded:
        if now < lease_end:
            return Step(Action.WAIT, at=lease_end)
        return Step(Action.EXPAND)
    if status is BatchStatus.CANCELLING and fields.get("swept") != "cancelled":
        return Step(Action.SWEEP, reason="cancelled")
    expires_at = float(fields.get("expires_at") or 0)
    if status is BatchStatus.IN_PROGRESS and expires_at and now >= expires_at and fields.get("swept") != "expired":
        return Step(Action.SWEEP, reason="expired")
    next_look = now + recheck_s
    if status is BatchStatus.IN_PROGRESS and expires_at > now:
        next_look = min(next_look, expires_at)
    return Step(Action.CHECK, at=next_look)


def final_status(fields: dict[str, str]) -> BatchStatus:
    """Where a batch whose lines have all ended goes."""
    if fields["status"] == BatchStatus.CANCELLING.value:
        return BatchStatus.CANCELLED
    if fields.get("swept") == "expired":
        return BatchStatus.EXPIRED
    return BatchStatus.COMPLETED
