"""OpenAI Chat Completions on the wire: request fields, ``chat.completion`` JSON, SSE chunks, errors.

Shapes follow what api.openai.com sends, down to the fields the official SDK
types declare (``refusal``, ``logprobs``, ``usage.*_details``), so the SDK's
parsed objects look like real ones. Also spoken by OpenAI-compatible servers
(vLLM, Ollama), hence any ``/{provider}/v1`` prefix.
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
)
from scripts.simulator.tokens import count_chat_tokens

_dumps = json.dumps

# kind -> (HTTP status, error.type, error.code, message)
_ERRORS: dict[str, tuple[int, str, str | None, str]] = {
    "429": (429, "requests", "rate_limit_exceeded", "Rate limit reached (simulated). Please retry later."),
    "500": (500, "server_error", None, "The server had an error while processing your request (simulated)."),
    "503": (503, "server_error", None, "The server is overloaded or not ready yet (simulated)."),
    "529": (529, "server_error", "overloaded", "The engine is currently overloaded (simulated)."),
    "400": (400, "invalid_request_error", None, "Invalid request (simulated)."),
    "401": (
        401,
        "invalid_request_error",
        "invalid_api_key",
        "You didn't provide an API key. Provide it in an Authorization header using Bearer auth.",
    ),
}


def _int_field(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequest(f"Invalid '{name}': expected an integer >= 1, got {value!r}.", name)
    return value


class OpenAIProtocol:
    name = "openai"
    id_prefix = "chatcmpl-sim"
    request_id_header = "x-request-id"

    def has_api_key(self, headers: Any) -> bool:
        scheme, _, key = headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(key.strip())

    def parse(self, body: Any) -> ChatRequest:
        if not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequest("You must provide a model parameter.", "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("Invalid 'messages': expected a non-empty array of messages.", "messages")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise InvalidRequest(
                    f"Invalid 'messages[{index}]': a message needs a 'role'.", f"messages[{index}].role"
                )
        max_tokens = _int_field(body, "max_completion_tokens")
        if max_tokens is None:
            max_tokens = _int_field(body, "max_tokens")
        stream = body.get("stream") is True
        options = body.get("stream_options")
        include_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
        return ChatRequest(model, messages, max_tokens, stream, include_usage)

    def seed_parts(self, request: ChatRequest) -> tuple[Any, ...]:
        return (request.model, request.messages, request.max_tokens)

    def prompt_tokens(self, request: ChatRequest, encoding: str) -> int:
        return count_chat_tokens(request.messages, encoding)

    def _usage(self, completion: Completion) -> dict[str, Any]:
        completion_tokens = len(completion.pieces)
        return {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": completion.prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def render(self, request: ChatRequest, completion: Completion) -> bytes:
        body = {
            "id": completion.request_id,
            "object": "chat.completion",
            "created": completion.created,
            "model": request.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(completion.pieces),
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "length" if completion.capped else "stop",
                }
            ],
            "usage": self._usage(completion),
            "service_tier": "default",
            "system_fingerprint": "fp_simulator",
        }
        return _dumps(body).encode()

    def stream(self, request: ChatRequest, completion: Completion) -> StreamParts:
        """Role chunk, one chunk per piece, finish chunk, optional usage chunk, ``[DONE]``."""
        usage_field = ',"usage":null' if request.include_usage else ""
        envelope = (
            f'{{"id":"{completion.request_id}","object":"chat.completion.chunk",'
            f'"created":{completion.created},"model":{_dumps(request.model)},'
            f'"service_tier":"default","system_fingerprint":"fp_simulator","choices":[{{"index":0,'
        )
        head = (
            f'data: {envelope}"delta":{{"role":"assistant","content":"","refusal":null}},'
            f'"logprobs":null,"finish_reason":null}}]{usage_field}}}\n\n'
        )
        finish = "length" if completion.capped else "stop"
        tail = f'data: {envelope}"delta":{{}},"logprobs":null,"finish_reason":"{finish}"}}]{usage_field}}}\n\n'
        if request.include_usage:
            usage_envelope = envelope.removesuffix('{"index":0,')
            tail += f'data: {usage_envelope}],"usage":{_dumps(self._usage(completion))}}}\n\n'
        tail += "data: [DONE]\n\n"
        return StreamParts(
            head=head.encode(),
            piece_prefix=f'data: {envelope}"delta":{{"content":'.encode(),
            piece_suffix=f'}},"logprobs":null,"finish_reason":null}}]{usage_field}}}\n\n'.encode(),
            tail=tail.encode(),
        )

    def error(
        self,
        kind: str,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        param: str | None = None,
    ) -> ErrorReply:
        status, error_type, code, default_message = _ERRORS[kind]
        headers = {"Content-Type": "application/json"}
        if kind == "429" and retry_after is not None:
            headers["retry-after"] = retry_after_value(retry_after)
        body = {"error": {"message": message or default_message, "type": error_type, "param": param, "code": code}}
        return ErrorReply(status, _dumps(body).encode(), headers)
