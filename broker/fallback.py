"""What happens to a job after a retryable provider error: a pure plan, then one requeue.

* 5xx, timeout, connection error: the model is used up for this job; the job moves to
  its next candidate (the cursor advances).
* 429: the model is not used up, only busy. It moves behind the job's other remaining
  candidates and gets a cooldown on the job (its retry-after), so it is tried again, but
  not before then. When it is the job's last candidate the job waits (``not_before``)
  instead of failing: a rate limit is not a reason to lose a job.

The chain ends the job (``GiveUp``) when no candidate is left, or when the job has made
``attempts_per_candidate * candidates`` attempts (counting every dispatch since its last
dead-letter retry, worker crashes included): an all-down or always-429 world ends in
``failed`` with every attempt listed, never in an endless loop. The bound also holds for
a job whose worker keeps dying under it (the scheduler's reaper fails it instead of
requeueing it once more).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Requeue:
    candidates: list[str]  # the whole list: consumed prefix unchanged, the rest reordered
    tokens: list[int]
    advance: bool
    not_before_ms: float | None
    cooldowns: dict[str, float] = field(default_factory=dict)  # model -> no call before (ms), this job


@dataclass(frozen=True)
class GiveUp:
    reason: str


def attempt_limit(n_candidates: int, attempts_per_candidate: int) -> int:
    return n_candidates * attempts_per_candidate


def plan_fallback(
    candidates: Sequence[str],
    tokens: Sequence[int],
    cursor: int,
    failed_model: str,
    *,
    now_ms: float,
    attempts_made: int,
    max_attempts: int,
    rate_limited_for_ms: float | None = None,
    cooldowns: Mapping[str, float] | None = None,
) -> Requeue | GiveUp:
    """The plan after ``failed_model`` failed; ``rate_limited_for_ms`` set means a 429.

    The failed model is found among the remaining candidates by name (normally it is
    ``candidates[cursor]``), so a chain reordered by another scheduler meanwhile stays right."""
    if attempts_made >= max_attempts:
        return GiveUp(f"attempt limit reached ({attempts_made} of {max_attempts})")
    live = {m: t for m, t in (cooldowns or {}).items() if t > now_ms and m in candidates}
    names = list(candidates)
    counts = list(tokens)
    if failed_model in names[cursor:]:  # bring it to the cursor: it is the one consumed or rotated
        at = names.index(failed_model, cursor)
        names.insert(cursor, names.pop(at))
        counts.insert(cursor, counts.pop(at))
    if cursor >= len(names):
        return GiveUp("all candidates failed")
    if rate_limited_for_ms is not None:
        model = names[cursor]
        live[model] = max(live.get(model, 0.0), now_ms + rate_limited_for_ms)
        names.append(names.pop(cursor))
        counts.append(counts.pop(cursor))
        next_cursor, advance = cursor, False
    else:
        next_cursor, advance = cursor + 1, True
    remaining = names[next_cursor:]
    if not remaining:
        return GiveUp("all candidates failed")
    not_before = min(live[m] for m in remaining) if all(m in live for m in remaining) else None
    return Requeue(names, counts, advance, not_before, live)
