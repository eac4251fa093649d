"""``GET /metrics``: Prometheus text format, read from Redis on each scrape."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from broker.api.deps import services
from broker.metrics import SnapshotCollector, snapshot

router = APIRouter(tags=["ops"])


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Unauthenticated, as scrapers expect: expose it only on a network Prometheus reaches."""
    svc = services(request)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(await snapshot(svc.redis, svc.config)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
