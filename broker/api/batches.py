"""``/v1/batches``: the OpenAI Batch API over ordinary broker jobs."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from broker.api.deps import Caller, services
from broker.api.dropin import dropin
from broker.batches.service import cancel_batch, create_batch
from broker.batches.store import BatchStore
from schemas.batch import BatchCreate, BatchObject

router = APIRouter(prefix="/v1/batches", tags=["batches"])


def _json(batch: BatchObject) -> JSONResponse:
    return JSONResponse(batch.model_dump(mode="json"))


@router.post("")
async def create(body: BatchCreate, request: Request, who: Caller) -> JSONResponse:
    """Validate the input file (invalid lines go to the error file, naming the line) and turn
    each valid line into a job under the same admission, routing and budgets as any other."""
    svc = services(request)
    batch, _ = await create_batch(body, who, svc.config, svc.redis, dropin(request).files)
    return _json(batch)


@router.get("")
async def list_batches(
    request: Request,
    who: Caller,
    after: str | None = Query(default=None),
    limit: int = Query(default=20, ge=1, le=100),
) -> JSONResponse:
    found, more = await BatchStore(services(request).redis).list(who.team, after, limit)
    data = [b.model_dump(mode="json") for b in found]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
        }
    )


@router.get("/{batch_id}")
async def get_batch(batch_id: str, request: Request, who: Caller) -> JSONResponse:
    return _json(await BatchStore(services(request).redis).get(batch_id, who.team))


@router.post("/{batch_id}/cancel")
async def cancel(batch_id: str, request: Request, who: Caller) -> JSONResponse:
    return _json(await cancel_batch(batch_id, who.team, services(request).redis))
