"""Request-scoped dependencies: the caller's principal and the process-wide services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from redis.asyncio import Redis

from broker.api.waiters import CompletionWaiters
from broker.auth import KeyResolver, Principal
from broker.cache.dispatch import CacheSender
from broker.jobstore.store import JobStore
from schemas.config import BrokerConfig


@dataclass
class Services:
    config: BrokerConfig
    redis: Redis
    store: JobStore
    keys: KeyResolver
    waiters: CompletionWaiters
    cache: CacheSender | None = None


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def principal(request: Request, authorization: str | None = Header(default=None)) -> Principal:
    return await services(request).keys.resolve(authorization)


Caller = Annotated[Principal, Depends(principal)]
