"""The control API under ``/_sim``: health, stats, fault rules and model behaviour at run time.

Tests and benchmarks steer a running simulator through these instead of
restarting it. Not on the hot path, so pydantic validates every body here.

=========================  =================================================
``GET  /_sim/health``      ``{"status": "ok"}``
``GET  /_sim/stats``       counters (see ``Stats.snapshot``)
``POST /_sim/reset``       zero the counters
``GET  /_sim/faults``      the installed rules, a JSON list
``PUT  /_sim/faults``      replace the rules (a JSON list); schedules restart now
``GET  /_sim/models``      ``{"default": {...}, "models": {...}}``
``PUT  /_sim/models``      merge ``{"default"?, "models"?, "replace"?: bool}``
=========================  =================================================
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from scripts.simulator.config import ModelBehaviour, parse_fault_rules
from scripts.simulator.state import STATE

_MODELS = TypeAdapter(dict[str, ModelBehaviour])


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json_body(request: web.Request) -> Any:
    return json.loads(await request.read() or b"null")


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def get_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].stats.snapshot())


async def reset_stats(request: web.Request) -> web.Response:
    request.app[STATE].stats.reset()
    return web.json_response({"status": "ok"})


def _faults_json(request: web.Request) -> list[dict[str, Any]]:
    return [rule.model_dump(mode="json", exclude_none=True) for rule in request.app[STATE].faults.rules]


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_faults_json(request))


async def put_faults(request: web.Request) -> web.Response:
    try:
        rules = parse_fault_rules(await _json_body(request))
    except (ValueError, ValidationError) as exc:
        return _bad_request(str(exc))
    request.app[STATE].set_faults(rules)
    return web.json_response(_faults_json(request))


def _models_json(request: web.Request) -> dict[str, Any]:
    config = request.app[STATE].config
    return {
        "default": config.default.model_dump(mode="json"),
        "models": {name: behaviour.model_dump(mode="json") for name, behaviour in config.models.items()},
    }


async def get_models(request: web.Request) -> web.Response:
    return web.json_response(_models_json(request))


async def put_models(request: web.Request) -> web.Response:
    try:
        body = await _json_body(request)
        if not isinstance(body, dict) or not set(body) <= {"default", "models", "replace"}:
            raise ValueError('expected {"default"?: {...}, "models"?: {name: {...}}, "replace"?: bool}')
        models = _MODELS.validate_python(body.get("models") or {})
        default = ModelBehaviour.model_validate(body["default"]) if body.get("default") else None
    except (ValueError, ValidationError) as exc:
        return _bad_request(str(exc))
    request.app[STATE].update_models(models, default, replace=bool(body.get("replace")))
    return web.json_response(_models_json(request))


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/health", health)
    app.router.add_get("/_sim/stats", get_stats)
    app.router.add_post("/_sim/reset", reset_stats)
    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_put("/_sim/faults", put_faults)
    app.router.add_get("/_sim/models", get_models)
    app.router.add_put("/_sim/models", put_models)
