"""Wiring: routes, the aiohttp application, and the blocking ``run_server`` entry point.

Routes (``{provider}`` is any name: ``openai``, ``anthropic``, ``selfhosted`` ...)::

    POST /{provider}/v1/chat/completions   OpenAI Chat Completions
    POST /{provider}/v1/messages           Anthropic Messages
    GET  /{provider}/v1/models             model list (OpenAI shape; Anthropic shape for Anthropic clients)
    /_sim/...                              control API, see ``control.py``
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from scripts.simulator.anthropic_protocol import AnthropicProtocol
from scripts.simulator.config import SimulatorConfig, load_config
from scripts.simulator.control import add_control_routes
from scripts.simulator.handlers import protocol_handler
from scripts.simulator.openai_protocol import OpenAIProtocol
from scripts.simulator.state import STATE, SimState

LISTENING = "simulator listening on"
"""Start of the line printed once the socket is bound; ``runner.py`` waits for it."""

_CREATED = 1_700_000_000


async def list_models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    openai, anthropic = OpenAIProtocol(), AnthropicProtocol()
    as_anthropic = "x-api-key" in request.headers or "anthropic-version" in request.headers
    protocol: OpenAIProtocol | AnthropicProtocol = anthropic if as_anthropic else openai
    if not protocol.has_api_key(request.headers):
        reply = protocol.error("401")
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
    names = state.models.names()
    data: list[dict[str, Any]]
    if as_anthropic:
        data = [
            {"type": "model", "id": name, "display_name": name, "created_at": "2025-01-01T00:00:00Z"} for name in names
        ]
        return web.json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None,
            }
        )
    data = [
        {"id": name, "object": "model", "created": _CREATED, "owned_by": request.match_info["provider"]}
        for name in names
    ]
    return web.json_response({"object": "list", "data": data})


def build_app(config: SimulatorConfig | dict[str, Any] | None = None) -> web.Application:
    """The simulator as an aiohttp application (run it with ``run_server`` or any aiohttp runner).

    Serve it with ``handler_cancellation=True`` so a client that gives up
    (timeout, disconnect) ends its handler and leaves ``in_flight``.
    """
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[STATE] = SimState(load_config(config))
    app.router.add_post("/{provider}/v1/chat/completions", protocol_handler(OpenAIProtocol()))
    app.router.add_post("/{provider}/v1/messages", protocol_handler(AnthropicProtocol()))
    app.router.add_get("/{provider}/v1/models", list_models)
    add_control_routes(app)
    return app


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when installed (it ships with uvicorn[standard]): roughly twice the request rate."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Stop when the process that started us is gone, so a killed test run leaves no orphan."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            stop.set()
            return
        await asyncio.sleep(1.0)


async def serve(
    config: SimulatorConfig, *, parent_pid: int | None = None, ready: Callable[[str], None] | None = None
) -> None:
    """Serve until SIGINT/SIGTERM (or the parent dies); ``ready(url)`` once the socket is bound."""
    runner = web.AppRunner(build_app(config), handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=4096, reuse_address=True)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid else None
    port = runner.addresses[0][1] if runner.addresses else config.port
    if ready is not None:
        ready(f"http://{config.host}:{port}")
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await runner.cleanup()


def run_server(config: SimulatorConfig | dict[str, Any] | str | None = None, *, parent_pid: int | None = None) -> None:
    """Run the simulator in the foreground (blocking); prints ``simulator listening on URL`` when ready.

    ``config`` is a ``SimulatorConfig``, a dict, a YAML path, or None for defaults.
    Port 0 picks a free port; the printed URL has the real one.
    """
    resolved = load_config(config)

    def announce(url: str) -> None:
        print(f"{LISTENING} {url}", flush=True)

    started = time.monotonic()
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve(resolved, parent_pid=parent_pid, ready=announce))
    print(f"simulator stopped after {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
