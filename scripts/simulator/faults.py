"""Fault injection: which request fails, and how.

``FaultRule`` (config) says *what* may fail; this module decides *when*. Time
is passed in (seconds since the rules were installed) so every decision is
reproducible in a unit test, and randomness comes from RNGs seeded by the
config seed and the rule's position, so a run replays identically for the same
request order.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from scripts.simulator.config import FaultRule, FlapSpec


@dataclass(frozen=True, slots=True)
class Fault:
    """What the server does instead of answering normally."""

    kind: str  # "429" "500" "503" "529" "400" "hang" "drop"
    retry_after: float = 1.0
    hang_s: float = 600.0
    delay_s: float = 0.0
    message: str | None = None


def flap_windows(down_fraction: float, mean_down_s: float, seed: int, horizon_s: float) -> list[float]:
    """Down windows of a flapping provider up to ``horizon_s``, flattened ``[start0, end0, start1, ...]``.

    Time alternates up, down, up, down..., starting up. Down periods are
    exponential with mean ``mean_down_s``; up periods are exponential with mean
    ``mean_down_s * (1 - f) / f``, so the long-run down share is ``f``. The
    sequence depends only on the seed: a longer horizon extends, never changes,
    a shorter one.
    """
    rng = random.Random(seed)
    mean_up_s = mean_down_s * (1 - down_fraction) / down_fraction
    edges: list[float] = []
    t = 0.0
    while t <= horizon_s:
        start = t + rng.expovariate(1 / mean_up_s)
        end = start + rng.expovariate(1 / mean_down_s)
        edges += [start, end]
        t = end
    return edges


def in_windows(edges: Sequence[float], t: float) -> bool:
    """Whether ``t`` lies in one of the ``[start, end)`` windows of a sorted flat edge list."""
    return bisect.bisect_right(edges, t) % 2 == 1


class FlapSchedule:
    """``flap_windows`` computed lazily as time passes (doubling the horizon when needed)."""

    def __init__(self, spec: FlapSpec) -> None:
        self._spec = spec
        self._horizon = 0.0
        self._edges: list[float] = []

    def is_down(self, t: float) -> bool:
        if t > self._horizon:
            self._horizon = max(2 * self._horizon, t, 60 * self._spec.mean_down_s)
            self._edges = flap_windows(self._spec.down_fraction, self._spec.mean_down_s, self._spec.seed, self._horizon)
        return in_windows(self._edges, t)


class ActiveRule:
    """A ``FaultRule`` with its run-time state: RNG for ``rate``, flap windows."""

    __slots__ = ("_flap", "_rng", "_schedule", "fault", "rule")

    def __init__(self, rule: FaultRule, seed: int) -> None:
        self.rule = rule
        self.fault = Fault(rule.kind, rule.retry_after, rule.hang_s, rule.delay_s, rule.message)
        self._rng = random.Random(seed)
        self._flap = FlapSchedule(rule.flap) if rule.flap else None
        self._schedule = sorted(rule.schedule) if rule.schedule is not None else None

    def matches(self, provider: str, model: str) -> bool:
        return fnmatchcase(provider, self.rule.provider) and fnmatchcase(model, self.rule.model)

    def active(self, t: float) -> bool:
        """Inside a schedule window (if any) and flapped down (if flapping)."""
        if self._schedule is not None and not any(start <= t < end for start, end in self._schedule):
            return False
        return self._flap is None or self._flap.is_down(t)

    def fires(self, t: float) -> bool:
        if not self.active(t):
            return False
        rate = self.rule.rate
        return rate is None or self._rng.random() < rate


class FaultTable:
    """The installed rules; ``pick`` is called once per request."""

    def __init__(self, rules: Sequence[FaultRule], seed: int, installed_at: float) -> None:
        self.rules = list(rules)
        self.installed_at = installed_at
        self._active = [ActiveRule(rule, seed * 1_000_003 + index) for index, rule in enumerate(self.rules)]
        self._by_target: dict[tuple[str, str], list[ActiveRule]] = {}

    def pick(self, provider: str, model: str, now: float) -> Fault | None:
        """The first matching rule that fires at ``now`` (same clock as ``installed_at``), else None."""
        if not self._active:
            return None
        key = (provider, model)
        candidates = self._by_target.get(key)
        if candidates is None:
            candidates = [rule for rule in self._active if rule.matches(provider, model)]
            if len(self._by_target) < 10_000:
                self._by_target[key] = candidates
        t = now - self.installed_at
        for rule in candidates:
            if rule.fires(t):
                return rule.fault
        return None
