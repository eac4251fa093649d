"""``GET /v1/models``: what a caller may put in ``model``: the configured models, the tiers
and ``auto``, in OpenAI's list shape (the SDK's ``client.models.list()``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from broker.api.deps import Caller, services
from broker.errors import NotFound
from schemas.config import BrokerConfig

router = APIRouter(prefix="/v1/models", tags=["openai"])


def model_list(config: BrokerConfig) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"id": name, "object": "model", "created": 0, "owned_by": model.provider, "tier": model.tier}
        for name, model in config.models.items()
    ]
    for tier in ("simple", "standard", "complex"):
        candidates = config.tier_candidates(tier)  # type: ignore[arg-type]
        if candidates and tier not in config.models:
            rows.append({"id": tier, "object": "model", "created": 0, "owned_by": "llm-broker", "models": candidates})
    if "auto" not in config.models:
        rows.append(
            {
                "id": "auto",
                "object": "model",
                "created": 0,
                "owned_by": "llm-broker",
                "models": config.tier_candidates(config.default_tier),
            }
        )
    return rows


@router.get("")
async def list_models(request: Request, who: Caller) -> JSONResponse:
    return JSONResponse({"object": "list", "data": model_list(services(request).config)})


@router.get("/{model_id}")
async def get_model(model_id: str, request: Request, who: Caller) -> JSONResponse:
    for row in model_list(services(request).config):
        if row["id"] == model_id:
            return JSONResponse(row)
    raise NotFound(f"no model {model_id!r}", param="model")
