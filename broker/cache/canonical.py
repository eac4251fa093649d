"""How a request is keyed in the cache. Pure: the same request always gives the same keys.

A request splits in two. The **query** is the last user turn: the part that varies between
callers and the only part embedded for the semantic layer. The **scope** is everything
else that shapes the answer — who may see it (the team, or the org where configured), the
model or tier asked for, the system prompt and earlier turns, the sampling parameters,
the response format and the prompt template's id and version — and must match exactly.
The exact layer keys on scope and query together.

Not part of either: ``max_tokens`` (an answer that stopped on its own fits any larger cap;
a smaller cap is checked at lookup), attribution metadata, priority and delivery fields.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from schemas.chat import ChatMessage, JobRequest
from schemas.config import BrokerConfig

ORG_OWNER = "@org"
"""The owner of entries shared by the teams listed in ``cache.org_scope_teams``."""


@dataclass(frozen=True)
class CacheKey:
    owner: str
    scope_id: str
    entry_id: str
    query: str | None
    """The last user turn; None when the conversation does not end on one (exact layer only)."""
    template_id: str | None
    template_version: int | None


def cache_owner(team: str, config: BrokerConfig) -> str:
    return ORG_OWNER if team in config.cache.org_scope_teams else team


def split_prompt(messages: list[ChatMessage]) -> tuple[list[ChatMessage], str | None]:
    """(context, query): the query is the final message when a user wrote it."""
    if messages and messages[-1].role == "user":
        return messages[:-1], messages[-1].text()
    return messages, None


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def target(request: JobRequest, config: BrokerConfig) -> str:
    """What the caller asked to answer: a named model, or a tier (the default tier if neither)."""
    if request.model is not None:
        return f"model:{request.model}"
    return f"tier:{request.tier or config.default_tier}"


def scope_fields(request: JobRequest, owner: str, config: BrokerConfig) -> dict[str, Any]:
    context, _ = split_prompt(request.chat())
    template = request.prompt
    return {
        "owner": owner,
        "target": target(request, config),
        "context": [m.model_dump(exclude_none=True) for m in context],
        "sampling": request.sampling(),
        "response_format": request.response_format,
        "template": [template.id, template.version] if template is not None else None,
    }


def cache_key(request: JobRequest, team: str, config: BrokerConfig) -> CacheKey:
    owner = cache_owner(team, config)
    scope_id = _digest(scope_fields(request, owner, config))
    _, query = split_prompt(request.chat())
    entry_id = _digest([scope_id, query if query is not None else request.chat()[-1].model_dump(exclude_none=True)])
    template = request.prompt
    return CacheKey(
        owner=owner,
        scope_id=scope_id,
        entry_id=entry_id,
        query=query,
        template_id=template.id if template is not None else None,
        template_version=template.version if template is not None else None,
    )
