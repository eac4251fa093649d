"""The provider endpoints: one flow for both protocols.

auth -> parse -> directives -> fault? -> time to first byte -> generate -> respond.

Kept lean on purpose (plain dicts, pre-rendered byte templates, no validation
library): the simulator must sustain ~1,000 concurrent requests on two cores
while the broker under test shares the machine.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from scripts.simulator.directives import DirectiveError, Directives, last_user_text, parse_directives
from scripts.simulator.faults import Fault
from scripts.simulator.output import choose_output_tokens, generate_pieces, request_seed
from scripts.simulator.protocol import ChatRequest, Completion, ErrorReply, InvalidRequest, WireProtocol
from scripts.simulator.state import STATE, SimState

_JSON_HEADERS = {"Content-Type": "application/json"}
_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
_piece_json: dict[str, bytes] = {}


def _encoded(piece: str) -> bytes:
    """JSON string literal of a piece, cached: the vocabulary is small."""
    cached = _piece_json.get(piece)
    if cached is None:
        cached = _piece_json[piece] = json.dumps(piece).encode()
    return cached


class _Outcome:
    """What ``/_sim/stats`` records for a request; ``cancelled`` unless something better is known."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status = "cancelled"


def protocol_handler(protocol: WireProtocol) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler serving ``protocol`` on ``/{provider}/...``, counted in the stats."""

    async def handler(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        provider = request.match_info["provider"]
        outcome = _Outcome()
        state.stats.begin(provider)
        try:
            return await _serve(request, state, provider, protocol, outcome)
        finally:
            state.stats.end(provider, outcome.status)

    return handler


def _reply(reply: ErrorReply, outcome: _Outcome, request_id: str, protocol: WireProtocol) -> web.Response:
    outcome.status = str(reply.status)
    return web.Response(
        status=reply.status,
        body=reply.body,
        headers={**reply.headers, protocol.request_id_header: request_id},
    )


async def _serve(
    request: web.Request, state: SimState, provider: str, protocol: WireProtocol, outcome: _Outcome
) -> web.StreamResponse:
    number = next(state.ids)
    request_id = f"req_sim{number:012x}"
    if not protocol.has_api_key(request.headers):
        return _reply(protocol.error("401"), outcome, request_id, protocol)
    try:
        chat = protocol.parse(json.loads(await request.read()))
        state.stats.model(provider, chat.model)
        directives = parse_directives(last_user_text(chat.messages))
    except InvalidRequest as exc:
        return _reply(protocol.error("400", exc.message, param=exc.param), outcome, request_id, protocol)
    except (ValueError, DirectiveError) as exc:  # bad JSON, bad #sim(...)
        return _reply(protocol.error("400", str(exc)), outcome, request_id, protocol)

    fault = _directive_fault(directives) or state.faults.pick(provider, chat.model, time.monotonic())
    if fault is not None:
        return await _inject(request, protocol, fault, outcome, request_id)

    behaviour = state.models.get(chat.model)
    seed = request_seed(*protocol.seed_parts(chat))
    wanted = directives.tokens if directives.tokens is not None else choose_output_tokens(behaviour.output_tokens, seed)
    count = wanted if chat.max_tokens is None else min(wanted, chat.max_tokens)
    pieces = generate_pieces(seed, count)
    completion = Completion(
        request_id=f"{protocol.id_prefix}{number:016x}",
        created=int(time.time()),
        pieces=pieces,
        capped=count < wanted,
        prompt_tokens=protocol.prompt_tokens(chat, behaviour.encoding),
    )
    latency = directives.latency if directives.latency is not None else behaviour.sample_latency()
    tps = directives.tps if directives.tps is not None else behaviour.tokens_per_second
    if latency > 0:
        await asyncio.sleep(latency)
    headers = {protocol.request_id_header: request_id}
    if chat.stream:
        response = await _stream(request, protocol, chat, completion, tps, headers, outcome)
    else:
        if tps > 0 and len(pieces) > 1:
            await asyncio.sleep((len(pieces) - 1) / tps)
        response = web.Response(body=protocol.render(chat, completion), headers={**_JSON_HEADERS, **headers})
        outcome.status = "200"
    if outcome.status == "200":
        state.stats.served(provider, chat.model, completion.prompt_tokens, len(pieces))
    return response


def _directive_fault(directives: Directives) -> Fault | None:
    if directives.status is None:
        return None
    return Fault(
        kind=directives.status,
        retry_after=1.0 if directives.retry_after is None else directives.retry_after,
        hang_s=600.0 if directives.hang_s is None else directives.hang_s,
        delay_s=directives.latency or 0.0,
    )


def _drop(request: web.Request) -> web.Response:
    """Close the TCP connection without a byte of response; the returned response is never sent."""
    if request.transport is not None:
        request.transport.close()
    return web.Response()


async def _inject(
    request: web.Request, protocol: WireProtocol, fault: Fault, outcome: _Outcome, request_id: str
) -> web.StreamResponse:
    if fault.delay_s > 0:
        await asyncio.sleep(fault.delay_s)
    if fault.kind == "drop":
        outcome.status = "drop"
        return _drop(request)
    if fault.kind == "hang":
        outcome.status = "hang"  # also when the client gives up first and the handler is cancelled
        await asyncio.sleep(fault.hang_s)
        return _drop(request)
    reply = protocol.error(fault.kind, fault.message, retry_after=fault.retry_after)
    return _reply(reply, outcome, request_id, protocol)


async def _stream(
    request: web.Request,
    protocol: WireProtocol,
    chat: ChatRequest,
    completion: Completion,
    tps: float,
    headers: dict[str, str],
    outcome: _Outcome,
) -> web.StreamResponse:
    """Write the SSE stream: all at once when unpaced, else piece ``i`` at ``start + i / tps``.

    When paced, every wake-up writes all pieces that are due, so a fast rate
    costs a few writes per event-loop tick, not one timer per token.
    """
    parts = protocol.stream(chat, completion)
    prefix, suffix = parts.piece_prefix, parts.piece_suffix
    events = [prefix + _encoded(piece) + suffix for piece in completion.pieces]
    response = web.StreamResponse(headers={**_SSE_HEADERS, **headers})
    try:
        await response.prepare(request)
        if tps <= 0:
            await response.write(parts.head + b"".join(events) + parts.tail)
        else:
            await response.write(parts.head)
            loop = asyncio.get_running_loop()
            start = loop.time()
            sent = 0
            while sent < len(events):
                delay = start + sent / tps - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                due = max(sent + 1, min(len(events), int((loop.time() - start) * tps) + 1))
                await response.write(b"".join(events[sent:due]))
                sent = due
            await response.write(parts.tail)
        await response.write_eof()
    except ConnectionResetError:
        return response  # client went away mid-stream: outcome stays "cancelled"
    outcome.status = "200"
    return response
