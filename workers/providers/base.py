"""What every provider adapter returns or raises, and which failures are worth another try."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

import aiohttp
import httpx2

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


@contextmanager
def sdk_errors(sdk: ModuleType) -> Iterator[None]:
    """Turn an official SDK's exceptions into ``ProviderError``. The ``openai`` and
    ``anthropic`` SDKs share one exception hierarchy (status, timeout, connection, an error
    event mid-stream), so both adapters call through this; the order of the clauses matters,
    as a timeout is a connection error and every SDK error is an ``APIError``."""
    try:
        yield
    except sdk.APIStatusError as exc:
        raise ProviderError(
            f"{exc.status_code}: {exc.message}",
            status=exc.status_code,
            retryable=is_retryable_status(exc.status_code),
            retry_after=parse_retry_after(exc.response.headers.get("retry-after")),
        ) from exc
    except sdk.APITimeoutError as exc:
        raise ProviderError("timeout: no answer in time", status=None, retryable=True) from exc
    except sdk.APIConnectionError as exc:
        raise ProviderError(f"connection error: {exc.message}", status=None, retryable=True) from exc
    except sdk.APIError as exc:  # an error event in the middle of a stream
        raise ProviderError(f"stream error: {exc.message}", status=None, retryable=True) from exc
    except (httpx2.HTTPError, aiohttp.ClientError, ConnectionError) as exc:
        raise ProviderError(f"connection error: {exc!r}", status=None, retryable=True) from exc


class ProviderAdapter(Protocol):
    async def complete(
        self,
        request: JobRequest,
        model: ModelConfig,
        on_first_byte: Callable[[], None] | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> ProviderReply: ...

    async def close(self) -> None: ...
