"""``GET /v1/health/models``: what the routers see of each provider model right now."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from broker.api.deps import Caller, services
from broker.health.breaker import circuit
from broker.health.store import shared_health_cache
from broker.router import RouterSettings, model_status

router = APIRouter(tags=["health"])


@router.get("/v1/health/models")
async def models_health(request: Request, who: Caller) -> JSONResponse:
    """Per model: circuit, consecutive failures, when it may be probed, 429 cooldown, latency
    EWMA, and the router's status for it (from the API's cached snapshot)."""
    svc = services(request)
    snapshot = await shared_health_cache(svc.redis, svc.config).get()
    settings = RouterSettings.from_config(svc.config)
    now_ms = time.time() * 1000
    data = []
    for name, model in svc.config.models.items():
        health = snapshot[name]
        data.append(
            {
                "model": name,
                "provider": model.provider,
                "tier": model.tier,
                "circuit": circuit(health, now_ms),
                "status": model_status(health, now_ms, model.latency_sla_ms, settings.latency_window_ms),
                "consecutive_failures": health.failures,
                "probe_at": (health.opened_at_ms + health.open_ms) / 1000 if health.opened_at_ms else None,
                "cooldown_until": health.cooldown_until_ms / 1000 if health.cooldown_until_ms > now_ms else None,
                "latency_ewma_ms": round(health.ewma_ms, 1) if health.ewma_ms is not None else None,
                "latency_sampled_at": health.sampled_at_ms / 1000 if health.sampled_at_ms else None,
            }
        )
    return JSONResponse({"object": "list", "data": data})
