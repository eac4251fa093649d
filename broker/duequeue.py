"""A schedule in a Redis zset (member -> due time in ms) with leased claims.

Used for work that must happen later and must not be lost: batches the keeper should look
at (``lb:batches:due``) and webhook deliveries to (re)try (``lb:webhooks:due``). Nothing
holds a thread or a message while it waits; a claimer that dies lets its items come due
again when their lease lapses.
"""

from __future__ import annotations

from redis.asyncio import Redis

from broker.jobstore.lua import register


class DueQueue:
    def __init__(self, redis: Redis, key: str) -> None:
        self.redis = redis
        self.key = key
        self._claim = register(redis, "broker", "claim_due")

    async def claim(self, limit: int, lease_s: float) -> list[str]:
        claimed = await self._claim(keys=[self.key], args=[int(lease_s * 1000), limit])
        return [m.decode() if isinstance(m, bytes) else str(m) for m in claimed]

    async def schedule(self, member: str, at_s: float) -> None:
        await self.redis.zadd(self.key, {member: int(at_s * 1000)})

    async def done(self, member: str) -> None:
        await self.redis.zrem(self.key, member)
