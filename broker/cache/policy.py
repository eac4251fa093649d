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
    same_words_threshold: float
    """The similarity enough when the guard reads both prompts as the same words (at most ``threshold``)."""


NO_CACHE = CachePlan(read=False, write=False, threshold=1.0, same_words_threshold=1.0)


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
    mode = control.mode if control is not None else "use"
    if control is not None and control.threshold is not None:  # the caller's own bar, for every semantic hit
        return CachePlan(mode == "use", True, control.threshold, control.threshold)
    same_words = min(config.same_words_threshold, config.threshold)
    return CachePlan(read=mode == "use", write=True, threshold=config.threshold, same_words_threshold=same_words)


def storable(result: ChatCompletion) -> bool:
    """Only complete answers are kept: never a truncated or filtered one, never an empty one."""
    choice = result.choices[0]
    return choice.finish_reason in ("stop", None) and bool(choice.message.content)
