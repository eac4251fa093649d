"""API keys: created once, shown once, stored only as a SHA-256 digest.

Keys are 256-bit random tokens, so a fast unsalted hash is enough: nobody can brute-force
the preimage, and lookups stay one Redis HGET. Resolved keys are cached in-process for a
few seconds because every request authenticates.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from broker import keys
from broker.errors import Unauthorized
from schemas.config import BrokerConfig

KEY_PREFIX = "lb-"
_CACHE_TTL_S = 5.0


@dataclass(frozen=True)
class Principal:
    """Who is calling: the team pays, the user and key are recorded for attribution."""

    team: str
    user: str
    key_id: str
    admin: bool = False


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_api_key(redis: Redis, team: str, user: str = "default", admin: bool = False) -> tuple[str, Principal]:
    """Store a new key's digest and return the plaintext, which is never stored."""
    api_key = new_api_key()
    principal = Principal(team=team, user=user, key_id="key_" + secrets.token_hex(6), admin=admin)
    redis.hset(keys.API_KEYS, hash_key(api_key), json.dumps(asdict(principal)))
    return api_key, principal


class KeyResolver:
    """Maps a bearer token to its principal: config-provisioned keys first, then Redis."""

    def __init__(self, redis: AsyncRedis, config: BrokerConfig) -> None:
        self._redis = redis
        self._static = {
            k.sha256: Principal(team=k.team, user=k.user, key_id=k.id, admin=k.admin) for k in config.api_keys
        }
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def resolve(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized("missing API key: send Authorization: Bearer <key>")
        digest = hash_key(authorization[len("Bearer ") :].strip())
        if digest in self._static:
            return self._static[digest]
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        raw = await self._redis.hget(keys.API_KEYS, digest)
        if raw is None:
            raise Unauthorized("invalid API key")
        principal = Principal(**json.loads(raw))
        self._cache[digest] = (now + _CACHE_TTL_S, principal)
        return principal
