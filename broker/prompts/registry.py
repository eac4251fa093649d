"""The prompt registry in Redis: publish, read, retire, split and share templates.

A template lives under its owning team (``lb:prompt:{owner}:{name}``); other teams see
it only when the owner shares it, and address it as ``owner/name``. A template another
team may not see is reported missing (404), never forbidden, so names leak nothing.
Only the owner changes a template: writes address the caller's own names. Versions are
written once by ``publish.lua``; the mutable facts (retired versions, the split and its
bucket layout, sharing) change under WATCH so concurrent edits never lose one another.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from broker import keys
from broker.errors import Conflict, Forbidden, InvalidRequest, NotFound
from broker.jobstore.lua import register
from broker.jobstore.records import decode_hash
from broker.prompts.render import check_draft
from broker.prompts.split import Layout, assign, rebalance
from schemas.chat import PromptRef
from schemas.config import BrokerConfig
from schemas.prompts import (
    TEMPLATE_NAME,
    SplitRequest,
    TemplateDraft,
    TemplateVersion,
    TemplateView,
    VersionSummary,
)

_NAME = re.compile(TEMPLATE_NAME)
MetaChange = tuple[dict[str, str], list[Callable[[Any], Any]]]


@dataclass(frozen=True)
class TemplateRef:
    owner: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.owner}/{self.name}"


def parse_ref(ref: str, team: str) -> TemplateRef | None:
    """``name`` is the caller's own template, ``owner/name`` another team's; None if malformed."""
    owner, sep, name = ref.rpartition("/")
    if not sep:
        owner = team
    return TemplateRef(owner, name) if owner and _NAME.match(name) else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _json_list(meta: dict[str, str], field: str) -> list[Any]:
    return list(json.loads(meta.get(field) or "[]"))


def _split(meta: dict[str, str]) -> dict[int, float] | None:
    raw = meta.get("split") or ""
    return {int(v): float(p) for v, p in json.loads(raw).items()} if raw else None


def _layout(meta: dict[str, str]) -> Layout:
    return tuple((int(s), int(e), int(v)) for s, e, v in _json_list(meta, "layout"))


class PromptRegistry:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._publish = register(redis, "broker.prompts", "publish")

    # reading -----------------------------------------------------------------------------

    async def visible(self, team: str, ref_text: str, param: str = "template_id") -> tuple[TemplateRef, dict[str, str]]:
        """The template and its meta, if ``team`` owns it or it is shared with ``team``."""
        ref = parse_ref(ref_text, team)
        meta = decode_hash(await self.redis.hgetall(keys.prompt_meta(ref.owner, ref.name))) if ref else {}
        if ref is None or not meta or (ref.owner != team and team not in _json_list(meta, "shared_with")):
            raise NotFound(f"no prompt template {ref_text!r}", param=param)
        return ref, meta

    async def version(
        self, ref: TemplateRef, meta: dict[str, str], number: int, param: str = "version"
    ) -> TemplateVersion:
        raw = await self.redis.hget(keys.prompt_versions(ref.owner, ref.name), str(number))
        if raw is None:
            raise NotFound(f"no version {number} of prompt template {ref.id!r}", param=param)
        retired = number in _json_list(meta, "retired")
        return TemplateVersion.model_validate({**json.loads(raw), "version": number, "retired": retired})

    async def versions(self, ref: TemplateRef, meta: dict[str, str]) -> list[TemplateVersion]:
        raw = decode_hash(await self.redis.hgetall(keys.prompt_versions(ref.owner, ref.name)))
        retired = set(_json_list(meta, "retired"))
        found = [
            TemplateVersion.model_validate({**json.loads(body), "version": int(n), "retired": int(n) in retired})
            for n, body in raw.items()
        ]
        return sorted(found, key=lambda v: v.version)

    async def view(self, ref: TemplateRef, meta: dict[str, str]) -> TemplateView:
        versions = await self.versions(ref, meta)
        return TemplateView(
            id=ref.id,
            owner=ref.owner,
            name=ref.name,
            latest=int(meta["latest"]),
            versions=[
                VersionSummary(
                    version=v.version, author=v.author, note=v.note, created_at=v.created_at, retired=v.retired
                )
                for v in versions
            ],
            split=_split(meta),
            shared_with=_json_list(meta, "shared_with"),
        )

    async def listing(self, team: str) -> list[TemplateView]:
        """The team's own templates, then those shared with it."""
        own = sorted(_text(n) for n in await self.redis.smembers(keys.team_prompts(team)))
        shared = sorted(_text(n) for n in await self.redis.smembers(keys.shared_prompts(team)))
        views = []
        for ref_text in [*own, *shared]:
            try:
                ref, meta = await self.visible(team, ref_text)
            except NotFound:
                continue
            views.append(await self.view(ref, meta))
        return views

    # jobs --------------------------------------------------------------------------------

    async def choose(self, team: str, prompt: PromptRef, job_id: str) -> TemplateVersion:
        """The version a job runs: the one it names, else its subject's (or job id's) version
        in the active split, else the latest version still in service."""
        ref, meta = await self.visible(team, prompt.id, param="prompt.id")
        retired = set(_json_list(meta, "retired"))
        if prompt.version is not None:
            version = await self.version(ref, meta, prompt.version, param="prompt.version")
            if version.retired:
                raise InvalidRequest(
                    f"prompt.version: version {prompt.version} of {ref.id!r} is retired", param="prompt.version"
                )
            return version
        if _split(meta):
            number = assign(_layout(meta), ref.id, prompt.subject if prompt.subject is not None else job_id)
        else:
            live = [n for n in range(int(meta["latest"]), 0, -1) if n not in retired]
            if not live:
                raise InvalidRequest(f"prompt.id: every version of {ref.id!r} is retired", param="prompt.id")
            number = live[0]
        return await self.version(ref, meta, number, param="prompt.version")

    async def assigned(self, team: str, ref_text: str, subject: str) -> int | None:
        """The version a subject gets under the active split (None when no experiment runs)."""
        ref, meta = await self.visible(team, ref_text)
        return assign(_layout(meta), ref.id, subject) if _split(meta) else None

    # writing (owner only) ----------------------------------------------------------------

    async def publish(
        self, team: str, author: str, name: str, draft: TemplateDraft, config: BrokerConfig
    ) -> TemplateVersion:
        """Store the next version of ``name`` (creating the template on its first version)."""
        if team not in config.teams:
            raise Forbidden(f"team {team!r} is not configured on this broker")
        if not _NAME.match(name):
            raise InvalidRequest(f"template_id: {name!r} must match {TEMPLATE_NAME}", param="template_id")
        check_draft(draft)
        if draft.model is not None and draft.model not in config.models:
            raise InvalidRequest(f"model: unknown model {draft.model!r}", param="model")
        if draft.tier not in (None, "auto") and not config.tier_candidates(draft.tier):  # type: ignore[arg-type]
            raise InvalidRequest(f"tier: no model serves tier {draft.tier!r}", param="tier")
        ref = TemplateRef(team, name)
        body = {
            **draft.model_dump(exclude_none=True),
            "template_id": ref.id,
            "author": author,
            "created_at": time.time(),
        }
        number = int(
            await self._publish(
                keys=[keys.prompt_meta(team, name), keys.prompt_versions(team, name), keys.team_prompts(team)],
                args=[name, json.dumps(body)],
            )
        )
        return TemplateVersion.model_validate({**body, "version": number})

    async def _update(self, team: str, name: str, change: Callable[[dict[str, str]], MetaChange]) -> dict[str, str]:
        """Apply ``change`` to the owner's template meta atomically (optimistic, retried on a race)."""
        ref = parse_ref(name, team)
        if ref is None or ref.owner != team:
            raise NotFound(f"no prompt template {name!r}", param="template_id")
        meta_key = keys.prompt_meta(ref.owner, ref.name)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(meta_key)
                    meta = decode_hash(await pipe.hgetall(meta_key))
                    if not meta:
                        raise NotFound(f"no prompt template {name!r}", param="template_id")
                    fields, extra = change(meta)
                    pipe.multi()
                    if fields:
                        pipe.hset(meta_key, mapping=dict[Any, Any](fields))
                    for command in extra:
                        command(pipe)
                    await pipe.execute()
                    return {**meta, **fields}
                except WatchError:
                    continue

    async def retire(self, team: str, name: str, number: int) -> None:
        """Retired versions take no new jobs; a version in the active split must leave it first."""

        def change(meta: dict[str, str]) -> MetaChange:
            if not 1 <= number <= int(meta["latest"]):
                raise NotFound(f"no version {number} of prompt template {name!r}", param="version")
            if number in (_split(meta) or {}):
                raise Conflict(f"version {number} is in the active split; change the split first")
            retired = sorted({*_json_list(meta, "retired"), number})
            return {"retired": json.dumps(retired)}, []

        await self._update(team, name, change)

    async def set_split(self, team: str, name: str, split: SplitRequest) -> dict[str, str]:
        """Start or change an experiment; the bucket layout moves only the changed share."""

        def change(meta: dict[str, str]) -> MetaChange:
            retired = set(_json_list(meta, "retired"))
            for number in split.weights:
                param = f"weights.{number}"
                if number > int(meta["latest"]):
                    raise InvalidRequest(f"{param}: no version {number} of {name!r}", param=param)
                if number in retired:
                    raise InvalidRequest(f"{param}: version {number} is retired", param=param)
            layout = rebalance(_layout(meta) or None, split.buckets())
            weights = {str(v): p for v, p in sorted(split.weights.items())}
            return {"split": json.dumps(weights), "layout": json.dumps([list(r) for r in layout])}, []

        return await self._update(team, name, change)

    async def clear_split(self, team: str, name: str) -> None:
        """End the experiment; the layout is kept so a later split keeps subjects where they were."""
        await self._update(team, name, lambda meta: ({"split": ""}, []))

    async def share(self, team: str, name: str, teams: list[str], config: BrokerConfig) -> list[str]:
        """Replace the set of teams that may read and use the template."""
        for index, other in enumerate(teams):
            if other not in config.teams:
                raise InvalidRequest(f"teams[{index}]: unknown team {other!r}", param=f"teams[{index}]")
        wanted = sorted(set(teams) - {team})
        ref_id = TemplateRef(team, name).id

        def membership(command: str, other: str) -> Callable[[Any], Any]:
            """Add the template to (or remove it from) another team's shared-with-me set."""
            return lambda pipe: getattr(pipe, command)(keys.shared_prompts(other), ref_id)

        def change(meta: dict[str, str]) -> MetaChange:
            before = set(_json_list(meta, "shared_with"))
            extra = [membership("srem", other) for other in before - set(wanted)]
            extra += [membership("sadd", other) for other in wanted]
            return {"shared_with": json.dumps(wanted)}, extra

        await self._update(team, name, change)
        return wanted
