"""Build the FastAPI application; each process holds one Redis pool and one completion listener."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from broker.api import (
    batches,
    budgets,
    cache_routes,
    chat,
    dashboard,
    deadletters,
    events,
    feedback,
    files,
    health,
    jobs,
    limits,
    metrics,
    models,
    prompts,
    webhooks,
)
from broker.api.deps import Services
from broker.api.dropin import start_dropin, stop_dropin
from broker.api.errors import install_error_handlers
from broker.api.waiters import CompletionWaiters
from broker.auth import KeyResolver
from broker.cache.dispatch import CacheSender
from broker.jobstore.store import JobStore
from broker.redis_clients import async_client
from broker.scheduler.dispatch import make_sender
from broker.settings import redis_url
from schemas.config import BrokerConfig


def create_app(config: BrokerConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = async_client(config)
        waiters = CompletionWaiters(redis)
        await waiters.start()
        app.state.services = Services(
            config=config,
            redis=redis,
            store=JobStore(redis),
            keys=KeyResolver(redis, config),
            waiters=waiters,
            cache=CacheSender(make_sender(redis_url(config))) if config.cache.enabled else None,
        )
        await start_dropin(app, config, redis)
        try:
            yield
        finally:
            await stop_dropin(app)
            await waiters.stop()
            await redis.aclose()

    app = FastAPI(title="llm-broker", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(jobs.router)
    app.include_router(limits.router)
    app.include_router(feedback.router)
    app.include_router(prompts.router)
    app.include_router(budgets.router)
    app.include_router(dashboard.router)
    app.include_router(metrics.router)
    app.include_router(cache_routes.router)
    for router in (files.router, batches.router, chat.router, models.router, events.router, webhooks.router):
        app.include_router(router)
    app.include_router(deadletters.router)
    app.include_router(health.router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> JSONResponse:
        redis: Redis = app.state.services.redis
        try:
            await redis.ping()
        except Exception as exc:
            return JSONResponse({"status": "degraded", "redis": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "redis": "ok"})

    return app
