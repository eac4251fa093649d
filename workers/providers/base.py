"""What every provider adapter returns or raises, and which failures are worth another try."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from schemas.chat import JobRequest
from schemas.config import ModelConfig
from schemas.result import FinishReason


@dataclass(frozen=True)
class ProviderReply:
    text: str
    finish_reason: FinishReason
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    upstream_model: str


class ProviderError(Exception):
    """A failed provider call. ``retryable`` failures move the job to its next candidate."""

    def __init__(self, message: str, *, status: int | None, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


def is_retryable_status(status: int) -> bool:
    """429 and 5xx may succeed elsewhere or later; any other 4xx is the request's fault."""
    return status == 429 or status >= 500


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class ProviderAdapter(Protocol):
    async def complete(
        self,
        request: JobRequest,
        model: ModelConfig,
        on_first_byte: Callable[[], None] | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> ProviderReply: ...

    async def close(self) -> None: ...
