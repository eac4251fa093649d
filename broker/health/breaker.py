"""The circuit breaker and latency EWMA of one provider model, as pure functions.

States, derived from the record and the clock (never stored as a word, so a record read
late is still right):

    closed ──(failure_threshold consecutive failures)──▶ open
    open ──(open period elapsed)──▶ half-open: one probe at a time (``claim_probe``)
    half-open ──success──▶ closed        half-open ──failure──▶ open, period doubled
    any ──success──▶ closed (a call that worked proves the model works)

A 429 is not a failure of the model: it sets a cooldown (the provider's retry-after)
during which no job is sent to the model, and leaves the breaker alone. Times are
milliseconds. ``record.lua`` and ``probe.lua`` implement the same transitions in Redis;
a twin test checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Circuit = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    open_ms: float = 10_000.0
    max_open_ms: float = 120_000.0
    probe_ms: float = 30_000.0
    ewma_alpha: float = 0.2


@dataclass(frozen=True)
class ModelHealth:
    failures: int = 0  # consecutive failures
    opened_at_ms: float = 0.0  # 0: the circuit is closed
    open_ms: float = 0.0  # length of the current open period
    probe_until_ms: float = 0.0  # a half-open probe is in flight until then
    cooldown_until_ms: float = 0.0  # a 429's retry-after: no call before then
    ewma_ms: float | None = None  # latency of successful calls
    sampled_at_ms: float = 0.0  # when ewma_ms last moved


HEALTHY = ModelHealth()


def circuit(health: ModelHealth, now_ms: float) -> Circuit:
    if health.opened_at_ms == 0:
        return "closed"
    if now_ms < health.opened_at_ms + health.open_ms:
        return "open"
    return "half_open"


def ewma(previous: float | None, sample: float, alpha: float) -> float:
    """Exponentially weighted mean; the first sample is taken as it is."""
    if previous is None:
        return sample
    return alpha * sample + (1 - alpha) * previous


def on_success(health: ModelHealth, now_ms: float, latency_ms: float, policy: BreakerPolicy) -> ModelHealth:
    return replace(
        health,
        failures=0,
        opened_at_ms=0.0,
        open_ms=0.0,
        probe_until_ms=0.0,
        ewma_ms=ewma(health.ewma_ms, latency_ms, policy.ewma_alpha),
        sampled_at_ms=now_ms,
    )


def on_failure(health: ModelHealth, now_ms: float, policy: BreakerPolicy) -> ModelHealth:
    state = circuit(health, now_ms)
    failures = health.failures + 1
    if state == "half_open":  # the probe failed: open again, for longer
        period = min(2 * health.open_ms, policy.max_open_ms)
        return replace(health, failures=failures, opened_at_ms=now_ms, open_ms=period, probe_until_ms=0.0)
    if state == "closed" and failures >= policy.failure_threshold:
        return replace(health, failures=failures, opened_at_ms=now_ms, open_ms=policy.open_ms, probe_until_ms=0.0)
    return replace(health, failures=failures)


def on_rate_limited(health: ModelHealth, now_ms: float, retry_after_ms: float) -> ModelHealth:
    """A 429: no call before the retry-after; a probe that met it frees the probe slot."""
    return replace(health, cooldown_until_ms=max(health.cooldown_until_ms, now_ms + retry_after_ms), probe_until_ms=0.0)


def claim_probe(health: ModelHealth, now_ms: float, policy: BreakerPolicy) -> tuple[bool, ModelHealth]:
    """May a job be sent now? Always when closed, never while open, and in half-open to one
    job at a time (the slot is held ``probe_ms`` or until the probe's outcome is recorded)."""
    state = circuit(health, now_ms)
    if state == "closed":
        return True, health
    if state == "open" or health.probe_until_ms > now_ms:
        return False, health
    return True, replace(health, probe_until_ms=now_ms + policy.probe_ms)
