"""Anthropic Messages on the wire: request fields, ``message`` JSON, the SSE event sequence, errors.

The stream is the real sequence ``message_start`` (with input tokens),
``content_block_start``, ``ping``, ``content_block_delta`` x N, ``content_block_stop``,
``message_delta`` (stop reason, output tokens), ``message_stop`` - what the
SDK's ``messages.stream()`` accumulator expects.
"""

from __future__ import annotations

import json
from typing import Any

from scripts.simulator.protocol import (
    ChatRequest,
    Completion,
    ErrorReply,
    InvalidRequest,
    StreamParts,
    retry_after_value,
    sse,
)
from scripts.simulator.tokens import count_anthropic_tokens

_dumps = json.dumps

# kind -> (HTTP status, error.type, message)
_ERRORS: dict[str, tuple[int, str, str]] = {
    "429": (429, "rate_limit_error", "Number of request tokens has exceeded your rate limit (simulated)."),
    "500": (500, "api_error", "Internal server error (simulated)."),
    "503": (503, "api_error", "Service unavailable (simulated)."),
    "529": (529, "overloaded_error", "Overloaded (simulated)."),
    "400": (400, "invalid_request_error", "Invalid request (simulated)."),
    "401": (401, "authentication_error", "x-api-key header is required"),
}


class AnthropicProtocol:
    name = "anthropic"
    id_prefix = "msg_sim"
    request_id_header = "request-id"

    def has_api_key(self, headers: Any) -> bool:
        if headers.get("x-api-key", "").strip():
            return True
        scheme, _, key = headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(key.strip())

    def parse(self, body: Any) -> ChatRequest:
        if not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequest("model: Field required", "model")
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise InvalidRequest("max_tokens: Field required", "max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise InvalidRequest("max_tokens: Input should be an integer >= 1", "max_tokens")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("messages: at least one message is required", "messages")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise InvalidRequest(
                    f"messages.{index}.role: Input should be 'user' or 'assistant'", f"messages.{index}.role"
                )
        system = body.get("system")
        if system is not None and not isinstance(system, str | list):
            raise InvalidRequest("system: Input should be a string or a list of text blocks", "system")
        return ChatRequest(model, messages, max_tokens, body.get("stream") is True, system=system)

    def seed_parts(self, request: ChatRequest) -> tuple[Any, ...]:
        return (request.model, request.system, request.messages, request.max_tokens)

    def prompt_tokens(self, request: ChatRequest, encoding: str) -> int:
        return count_anthropic_tokens(request.system, request.messages)

    def _message(
        self,
        request: ChatRequest,
        completion: Completion,
        content: list[Any],
        stop_reason: str | None,
        output_tokens: int,
    ) -> dict[str, Any]:
        return {
            "id": completion.request_id,
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": completion.prompt_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": output_tokens,
                "service_tier": "standard",
            },
        }

    def render(self, request: ChatRequest, completion: Completion) -> bytes:
        content = [{"type": "text", "text": "".join(completion.pieces)}]
        stop_reason = "max_tokens" if completion.capped else "end_turn"
        return _dumps(self._message(request, completion, content, stop_reason, len(completion.pieces))).encode()

    def stream(self, request: ChatRequest, completion: Completion) -> StreamParts:
        start = {"type": "message_start", "message": self._message(request, completion, [], None, 1)}
        head = (
            sse(_dumps(start), "message_start")
            + sse(
                '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
                "content_block_start",
            )
            + sse('{"type":"ping"}', "ping")
        )
        stop_reason = "max_tokens" if completion.capped else "end_turn"
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": len(completion.pieces)},
        }
        tail = (
            sse('{"type":"content_block_stop","index":0}', "content_block_stop")
            + sse(_dumps(delta), "message_delta")
            + sse('{"type":"message_stop"}', "message_stop")
        )
        return StreamParts(
            head=head,
            piece_prefix=(
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                b'"delta":{"type":"text_delta","text":'
            ),
            piece_suffix=b"}}\n\n",
            tail=tail,
        )

    def error(
        self,
        kind: str,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        param: str | None = None,
    ) -> ErrorReply:
        status, error_type, default_message = _ERRORS[kind]
        headers = {"Content-Type": "application/json"}
        if kind == "429" and retry_after is not None:
            headers["retry-after"] = retry_after_value(retry_after)
        body = {"type": "error", "error": {"type": error_type, "message": message or default_message}}
        return ErrorReply(status, _dumps(body).encode(), headers)
