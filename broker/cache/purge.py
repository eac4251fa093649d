"""Purging cached answers: by owner (a team, or the org-wide scope), by template version, or all.

Redis holds the source of truth, so a purge is complete the moment its entries are deleted
here: a vector in Chroma whose entry is gone is never served. The caller then asks the cache
worker (``CACHE_PURGE_TASK``) to drop the matching vectors too, to reclaim the space.
Who may purge what is decided by ``purge_selector``, a pure function.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

from broker import keys
from broker.auth import Principal
from broker.cache.canonical import ORG_OWNER, cache_owner
from broker.errors import Forbidden, InvalidRequest
from schemas.config import BrokerConfig


@dataclass(frozen=True)
class PurgeSelector:
    owner: str | None = None
    """A team, or ``@org``; None: every owner."""
    template_id: str | None = None
    template_version: int | None = None
    """None with a template id: every version of it."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def purge_selector(
    who: Principal,
    config: BrokerConfig,
    team: str | None = None,
    every_team: bool = False,
    template_id: str | None = None,
    template_version: int | None = None,
) -> PurgeSelector:
    """What a caller may purge: its own team's cache; another team's, the org-wide scope or
    every team's only with an admin key. Raises before anything is deleted."""
    if template_version is not None and template_id is None:
        raise InvalidRequest("template_version: give template_id with template_version", param="template_version")
    if every_team:
        if team is not None:
            raise InvalidRequest("team: give either team or all, not both", param="team")
        if not who.admin:
            raise Forbidden("purging every team's cache needs an admin key")
        return PurgeSelector(None, template_id, template_version)
    name = team or who.team
    if name != ORG_OWNER and name not in config.teams:
        raise InvalidRequest(f"team: unknown team {name!r}", param="team")
    owner = ORG_OWNER if name == ORG_OWNER else cache_owner(name, config)
    if not who.admin and name != who.team:
        raise Forbidden(f"purging team {name!r}'s cache needs an admin key")
    if not who.admin and owner == ORG_OWNER:
        raise Forbidden(f"team {name!r} shares the org-wide cache: purging it needs an admin key")
    return PurgeSelector(owner, template_id, template_version)


async def purge(redis: Redis, selector: PurgeSelector) -> int:
    """Delete the selected entries and their index entries; returns how many entries went."""
    if selector.template_id is not None:
        return await _purge_template(redis, selector)
    if selector.owner is not None:
        return await _purge_owner(redis, selector.owner)
    return await _purge_all(redis)


async def owner_stats(redis: Redis, owner: str) -> dict[str, int]:
    scopes = [_text(s) for s in await redis.smembers(keys.cache_owner(owner))]
    entries = 0
    for scope_id in scopes:
        entries += int(await redis.zcard(keys.cache_scope(scope_id)))
    return {"scopes": len(scopes), "entries": entries}


async def _purge_owner(redis: Redis, owner: str) -> int:
    removed = 0
    for scope_id in [_text(s) for s in await redis.smembers(keys.cache_owner(owner))]:
        members: list[Any] = list(await redis.zrange(keys.cache_scope(scope_id), 0, -1))
        ids = [_text(i) for i in members]
        if ids:
            removed += int(await redis.delete(*(keys.cache_entry(i) for i in ids)))
        await redis.delete(keys.cache_scope(scope_id))
    await redis.delete(keys.cache_owner(owner))
    return removed


async def _purge_template(redis: Redis, selector: PurgeSelector) -> int:
    assert selector.template_id is not None
    if selector.template_version is not None:
        sets = [keys.cache_template(selector.template_id, selector.template_version)]
    else:
        sets = [_text(k) async for k in redis.scan_iter(match=keys.cache_template(selector.template_id, "*"))]
    removed = 0
    for set_key in sets:
        for entry_id in [_text(i) for i in await redis.smembers(set_key)]:
            raw = await redis.get(keys.cache_entry(entry_id))
            if raw is None:
                await redis.srem(set_key, entry_id)
                continue
            entry = json.loads(raw)
            if selector.owner is not None and entry.get("owner") != selector.owner:
                continue
            removed += int(await redis.delete(keys.cache_entry(entry_id)))
            await redis.zrem(keys.cache_scope(entry["scope_id"]), entry_id)
            await redis.srem(set_key, entry_id)
    return removed


async def _purge_all(redis: Redis) -> int:
    removed = 0
    prefixes = (keys.CACHE_ENTRY_PREFIX, keys.CACHE_SCOPE_PREFIX, keys.CACHE_OWNER_PREFIX, keys.CACHE_TEMPLATE_PREFIX)
    for prefix in prefixes:
        batch: list[str] = []
        async for key in redis.scan_iter(match=prefix + "*", count=1000):
            batch.append(_text(key))
            if len(batch) >= 500:
                deleted = int(await redis.delete(*batch))
                removed += deleted if prefix == keys.CACHE_ENTRY_PREFIX else 0
                batch = []
        if batch:
            deleted = int(await redis.delete(*batch))
            removed += deleted if prefix == keys.CACHE_ENTRY_PREFIX else 0
    return removed


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
