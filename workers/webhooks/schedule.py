"""When to try a failed webhook delivery again, and when to give up. Pure.

Exponential backoff with "equal jitter": the n-th retry waits between half and all of
``min(cap, base * 2^(n-1))``, so a receiver that comes back is not hit by every sender at
the same instant, and a retry never comes sooner than half the nominal delay. Attempts go
on until the next one would fall more than ``window`` after the event (24 h by default),
then the event is a dead letter.
"""

from __future__ import annotations

import random


def nominal_delay_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Delay after the ``attempt``-th failed attempt (1-based), before jitter."""
    return min(cap_s, base_s * 2 ** min(attempt - 1, 60))


def retry_delay_s(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    nominal = nominal_delay_s(attempt, base_s, cap_s)
    return nominal / 2 + (rng or random).uniform(0, nominal / 2)


def next_attempt_at(first_at: float, now: float, delay_s: float, window_s: float) -> float | None:
    """When to try again, or None when that would be past the retry window (dead letter)."""
    at = now + delay_s
    return None if at - first_at > window_s else at
