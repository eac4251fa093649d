"""One place that turns errors into HTTP answers, in the OpenAI error shape SDKs understand."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from broker.errors import BrokerError

log = logging.getLogger(__name__)


def error_body(message: str, error_type: str, param: str | None, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": None, **extra}}


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "messages", 0, "role")`` → ``messages[0].role``."""
    path = ""
    for part in loc:
        if part in ("body", "query", "path", "header"):
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


_NAMED_FIELD = re.compile(r"^(?:Value error, )?([A-Za-z_][\w.\[\]]*): ")


def problem(err: dict[str, Any]) -> dict[str, str]:
    """One validation error as {param, message, type}. Whole-body validators name their field
    by starting the message with ``field: ``, which becomes ``param``."""
    param = field_path(err["loc"])
    message = str(err["msg"])
    named = _NAMED_FIELD.match(message)
    if named and param == "body":
        param = named.group(1)
        message = message[named.end() :]
    return {"param": param, "message": message.removeprefix("Value error, "), "type": str(err["type"])}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BrokerError)
    async def _broker_error(_: Request, exc: BrokerError) -> JSONResponse:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after is not None else None
        return JSONResponse(error_body(exc.message, exc.error_type, exc.param), exc.status, headers=headers)

    @app.exception_handler(RedisError)
    async def _redis_error(_: Request, exc: RedisError) -> JSONResponse:
        log.error("Redis unavailable: %s", exc)
        return JSONResponse(
            error_body("the broker's store is unavailable; retry shortly", "service_unavailable", None),
            503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal error", "server_error", None), 500)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [problem(err) for err in exc.errors()]
        first = problems[0] if problems else {"param": "body", "message": "invalid request"}
        message = "; ".join(f"{p['param']}: {p['message']}" for p in problems)
        return JSONResponse(
            error_body(message, "invalid_request_error", first["param"], errors=problems), status_code=422
        )
