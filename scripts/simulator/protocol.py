"""What the server needs from a wire protocol, and the types both protocols share.

The server runs one flow for every request (auth, parse, faults, latency,
generate, respond); everything protocol-specific (field names, token counting,
JSON shapes, SSE events, error bodies) sits behind ``WireProtocol``, one
implementation per provider API in ``openai_protocol`` and ``anthropic_protocol``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class InvalidRequest(Exception):
    """The request body is wrong; answered 400 in the protocol's error shape, naming the field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(slots=True)
class ChatRequest:
    """The protocol-neutral fields the simulator acts on."""

    model: str
    messages: list[Any]
    max_tokens: int | None
    stream: bool
    include_usage: bool = False
    system: Any = None


@dataclass(slots=True)
class Completion:
    """The answer decided for one request, before rendering."""

    request_id: str
    created: int
    pieces: list[str]
    capped: bool  # output stopped by max_tokens
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class StreamParts:
    """A stream as bytes: ``head``, ``piece_prefix + json(piece) + piece_suffix`` per piece, ``tail``."""

    head: bytes
    piece_prefix: bytes
    piece_suffix: bytes
    tail: bytes


@dataclass(frozen=True, slots=True)
class ErrorReply:
    status: int
    body: bytes
    headers: dict[str, str]


class WireProtocol(Protocol):
    name: str
    id_prefix: str
    request_id_header: str

    def parse(self, body: Any) -> ChatRequest: ...

    def has_api_key(self, headers: Any) -> bool: ...

    def seed_parts(self, request: ChatRequest) -> tuple[Any, ...]: ...

    def prompt_tokens(self, request: ChatRequest, encoding: str) -> int: ...

    def render(self, request: ChatRequest, completion: Completion) -> bytes: ...

    def stream(self, request: ChatRequest, completion: Completion) -> StreamParts: ...

    def error(
        self,
        kind: str,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        param: str | None = None,
    ) -> ErrorReply: ...


def sse(data: str, event: str | None = None) -> bytes:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def retry_after_value(seconds: float) -> str:
    """``retry-after`` as providers send it: whole seconds when whole, else a decimal."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
