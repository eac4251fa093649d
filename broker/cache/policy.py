"""Which jobs the cache may answer and which answers it may keep. Pure: request and config in.

A job is cacheable when the cache is on, the caller did not say ``bypass``, and either the
request is deterministic enough (temperature at most ``cache.max_temperature``; an unset
temperature counts as the provider default, 1) or the caller asked for the cache
explicitly with a ``cache`` object. ``refresh`` skips the read and stores the new answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.chat import JobRequest
from schemas.config import CacheConfig
from schemas.result import ChatCompletion


@dataclass(frozen=True)
class CachePlan:
    read: bool
    """Look the job up before admission (a hit finishes it without a provider call)."""
    write: bool
    """Store the provider's answer once the job succeeds."""
    threshold: float
    """Cosine similarity a semantic hit needs for this job."""


NO_CACHE = CachePlan(read=False, write=False, threshold=1.0)


def temperature_allows(temperature: float | None, config: CacheConfig) -> bool:
    if config.max_temperature is None:
        return True
    effective = config.unset_temperature if temperature is None else temperature
    return effective <= config.max_temperature


def cache_plan(request: JobRequest, config: CacheConfig) -> CachePlan:
    if not config.enabled:
        return NO_CACHE
    control = request.cache
    if control is not None and control.mode == "bypass":
        return NO_CACHE
    if control is None and not temperature_allows(request.temperature, config):
        return NO_CACHE
    threshold = control.threshold if control is not None and control.threshold is not None else config.threshold
    mode = control.mode if control is not None else "use"
    return CachePlan(read=mode == "use", write=True, threshold=threshold)


def storable(result: ChatCompletion) -> bool:
    """Only complete answers are kept: never a truncated or filtered one, never an empty one."""
    choice = result.choices[0]
    return choice.finish_reason in ("stop", None) and bool(choice.message.content)
