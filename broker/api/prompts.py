"""``/v1/prompts``: publish, list, show, diff, retire, split, share and report on templates.

Paths name the caller's own templates (``/v1/prompts/summarize``); read routes also take
``?owner=TEAM`` for a template that team shares with the caller. Writes are the owner's.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from broker.api.deps import Caller, services
from broker.ledger import ledger_location
from broker.prompts.compose import version_diff
from broker.prompts.registry import PromptRegistry
from broker.prompts.report import prompt_report
from broker.settings import home_dir
from schemas.prompts import (
    PromptReport,
    ShareRequest,
    SplitRequest,
    TemplateDraft,
    TemplateVersion,
    TemplateView,
)

router = APIRouter(prefix="/v1/prompts", tags=["prompts"])
Owner = Annotated[str | None, Query(description="owning team of a template shared with you")]


def registry(request: Request) -> PromptRegistry:
    return PromptRegistry(services(request).redis)


def qualified(template_id: str, owner: str | None) -> str:
    return f"{owner}/{template_id}" if owner else template_id


@router.get("")
async def list_templates(request: Request, who: Caller) -> dict[str, Any]:
    """Templates the caller's team owns, then those shared with it."""
    views = await registry(request).listing(who.team)
    return {"object": "list", "data": [view.model_dump() for view in views]}


@router.post("/{template_id}/versions", status_code=201)
async def publish(template_id: str, body: TemplateDraft, request: Request, who: Caller) -> TemplateVersion:
    """Publish the next version (the first one creates the template). Versions never change."""
    return await registry(request).publish(who.team, who.user, template_id, body, services(request).config)


@router.get("/{template_id}")
async def show(template_id: str, request: Request, who: Caller, owner: Owner = None) -> TemplateView:
    reg = registry(request)
    ref, meta = await reg.visible(who.team, qualified(template_id, owner))
    return await reg.view(ref, meta)


@router.get("/{template_id}/versions/{version}")
async def show_version(
    template_id: str, version: int, request: Request, who: Caller, owner: Owner = None
) -> TemplateVersion:
    reg = registry(request)
    ref, meta = await reg.visible(who.team, qualified(template_id, owner))
    return await reg.version(ref, meta, version)


@router.get("/{template_id}/diff", response_class=PlainTextResponse)
async def diff(
    template_id: str,
    request: Request,
    who: Caller,
    a: Annotated[int, Query(alias="from", ge=1)],
    b: Annotated[int, Query(alias="to", ge=1)],
    owner: Owner = None,
) -> PlainTextResponse:
    """A unified diff of messages, variables, model and parameters between two versions."""
    reg = registry(request)
    ref, meta = await reg.visible(who.team, qualified(template_id, owner))
    old = await reg.version(ref, meta, a, param="from")
    new = await reg.version(ref, meta, b, param="to")
    return PlainTextResponse(version_diff(old, new) + "\n", media_type="text/x-diff")


@router.post("/{template_id}/versions/{version}/retire")
async def retire(template_id: str, version: int, request: Request, who: Caller) -> TemplateView:
    """A retired version takes no new jobs (its record and its jobs' history stay)."""
    reg = registry(request)
    await reg.retire(who.team, template_id, version)
    return await reg.view(*await reg.visible(who.team, template_id))


@router.put("/{template_id}/split")
async def set_split(template_id: str, body: SplitRequest, request: Request, who: Caller) -> TemplateView:
    """Start or change an experiment, e.g. ``{"weights": {"3": 90, "4": 10}}``."""
    reg = registry(request)
    await reg.set_split(who.team, template_id, body)
    return await reg.view(*await reg.visible(who.team, template_id))


@router.delete("/{template_id}/split")
async def clear_split(template_id: str, request: Request, who: Caller) -> TemplateView:
    reg = registry(request)
    await reg.clear_split(who.team, template_id)
    return await reg.view(*await reg.visible(who.team, template_id))


@router.get("/{template_id}/assignment")
async def assignment(
    template_id: str, request: Request, who: Caller, subject: Annotated[str, Query(max_length=256)], owner: Owner = None
) -> dict[str, Any]:
    """The version the active split gives ``subject`` (null when no experiment runs)."""
    version = await registry(request).assigned(who.team, qualified(template_id, owner), subject)
    return {"subject": subject, "version": version}


@router.put("/{template_id}/shared_with")
async def share(template_id: str, body: ShareRequest, request: Request, who: Caller) -> TemplateView:
    """Replace the teams that may read and use the template."""
    reg = registry(request)
    await reg.share(who.team, template_id, body.teams, services(request).config)
    return await reg.view(*await reg.visible(who.team, template_id))


@router.get("/{template_id}/report")
async def report(
    template_id: str,
    request: Request,
    who: Caller,
    baseline: Annotated[int | None, Query(ge=1)] = None,
    level: Annotated[float, Query(gt=0, lt=1)] = 0.95,
) -> Response:
    """Versions compared from the usage ledger and feedback (owner only)."""
    ref, _ = await registry(request).visible(who.team, template_id)
    result: PromptReport = await asyncio.to_thread(
        prompt_report, ledger_location(services(request).config), home_dir() / "feedback", ref.id, baseline, level
    )
    return Response(result.model_dump_json(), media_type="application/json")
