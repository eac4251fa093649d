"""Routing: which configured models may serve a job, in the order to try them.

A pure function of the request and the configuration. ``tier: auto`` is resolved by the
complexity classifier (``broker.classifier.heuristic``); ordering by provider health is
the router's job (``broker.router``), at submit and again at admission.
"""

from __future__ import annotations

from broker.classifier.heuristic import classify_messages
from broker.errors import InvalidRequest
from schemas.chat import JobRequest, Tier
from schemas.config import BrokerConfig


def resolve_tier(request: JobRequest, config: BrokerConfig) -> Tier | None:
    """The tier a job is routed by: as named, classified for ``auto``, the default when the job
    names neither model nor tier; None when it names a model."""
    if request.model is not None:
        return None
    if request.tier == "auto":
        return classify_messages(request.chat()).tier
    return request.tier or config.default_tier


def candidate_models(request: JobRequest, config: BrokerConfig) -> list[str]:
    """Ordered candidates: the named model then its fallbacks, or the tier's models."""
    if request.model is not None:
        if request.model not in config.models:
            known = ", ".join(sorted(config.models))
            raise InvalidRequest(f"model: unknown model {request.model!r} (known: {known})", param="model")
        chain = [request.model, *config.models[request.model].fallbacks]
    else:
        tier = resolve_tier(request, config)
        assert tier is not None
        chain = config.tier_candidates(tier)
        if not chain:
            raise InvalidRequest(f"tier: no model serves tier {tier!r}", param="tier")
    return list(dict.fromkeys(chain))
