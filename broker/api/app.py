"""Build the FastAPI application; each process holds one Redis pool and one completion listener."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from broker.api import deadletters, feedback, health, jobs, limits, prompts
from broker.api.deps import Services
from broker.api.errors import install_error_handlers
from broker.api.waiters import CompletionWaiters
from broker.auth import KeyResolver
from broker.jobstore.store import JobStore
from broker.redis_clients import async_client
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
        )
        try:
            yield
        finally:
            await waiters.stop()
            await redis.aclose()

    app = FastAPI(title="llm-broker", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(jobs.router)
    app.include_router(limits.router)
    app.include_router(feedback.router)
    app.include_router(prompts.router)
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
