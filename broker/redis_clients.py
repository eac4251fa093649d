"""Redis connections for CLI commands and processes, with a clear error when Redis is absent."""

from __future__ import annotations

from typing import Any

import redis
from redis.asyncio import BlockingConnectionPool
from redis.asyncio import Redis as AsyncRedis

from broker.errors import Unavailable
from broker.settings import redis_url
from schemas.config import BrokerConfig


def sync_client(config: BrokerConfig) -> redis.Redis:
    client = redis.Redis.from_url(redis_url(config))
    try:
        client.ping()
    except redis.ConnectionError as exc:
        raise Unavailable(
            f"no Redis at {redis_url(config)}: start the broker with `llm-broker up` or set LLM_BROKER_REDIS__URL"
        ) from exc
    return client


def async_client(config: BrokerConfig, max_connections: int = 128) -> AsyncRedis:
    """A pool that makes callers queue for a connection under load instead of failing:
    a thousand waiting requests need far fewer connections than requests."""
    pool = BlockingConnectionPool.from_url(redis_url(config), max_connections=max_connections, timeout=30)
    return AsyncRedis(connection_pool=pool)


def as_text(value: Any) -> str | None:
    """A Redis reply as text (replies are bytes; redis-py types them loosely)."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def as_texts(values: Any) -> list[str]:
    """A list reply (ZRANGE, SMEMBERS...) as text."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
