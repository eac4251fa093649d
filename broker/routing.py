"""Routing: which configured models may serve a job, in the order to try them.

A pure function of the request and the configuration; provider health and the
complexity classifier plug in here later without touching the API or the scheduler.
"""

from __future__ import annotations

from broker.errors import InvalidRequest
from schemas.chat import JobRequest
from schemas.config import BrokerConfig


def candidate_models(request: JobRequest, config: BrokerConfig) -> list[str]:
    """Ordered candidates: the named model then its fallbacks, or the tier's models."""
    if request.model is not None:
        if request.model not in config.models:
            known = ", ".join(sorted(config.models))
            raise InvalidRequest(f"model: unknown model {request.model!r} (known: {known})", param="model")
        chain = [request.model, *config.models[request.model].fallbacks]
    else:
        tier = request.tier if request.tier not in (None, "auto") else config.default_tier
        chain = config.tier_candidates(tier)  # type: ignore[arg-type]
        if not chain:
            raise InvalidRequest(f"tier: no model serves tier {tier!r}", param="tier")
    return list(dict.fromkeys(chain))
