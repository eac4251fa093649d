"""The OpenAI Batch API's objects as the broker serves them: files, batches and their lines.

Shapes follow the official ``openai`` SDK's types (``FileObject``, ``Batch``,
``BatchRequestCounts``, ``BatchError``, ``BatchUsage``) so the unmodified SDK parses them;
``progress`` is the broker's own addition (the SDK keeps unknown fields as extras).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.urls import check_http_url

CHAT_ENDPOINT = "/v1/chat/completions"


class BatchStatus(StrEnum):
    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED)


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["uploaded", "processed", "error"] = "processed"
    expires_at: int | None = None
    status_details: str | None = None


class BatchCreate(BaseModel):
    """``POST /v1/batches``. ``callback_url`` (a broker extension, sent by the SDK as
    ``extra_body``) receives a signed webhook when the batch ends."""

    model_config = ConfigDict(extra="forbid")
    input_file_id: str = Field(min_length=1, max_length=128)
    endpoint: str
    completion_window: str = Field(default="24h", pattern=r"^[1-9][0-9]*[smhd]$")
    metadata: dict[str, str] | None = None
    output_expires_after: dict[str, Any] | None = None
    callback_url: str | None = Field(default=None, max_length=2048)

    @field_validator("endpoint")
    @classmethod
    def _chat_only(cls, value: str) -> str:
        if value != CHAT_ENDPOINT:
            raise ValueError(f"only {CHAT_ENDPOINT} batches are supported, not {value!r}")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_like_openai(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        if len(value) > 16:
            raise ValueError("at most 16 metadata pairs")
        for key, item in value.items():
            if len(key) > 64 or len(item) > 512:
                raise ValueError(f"metadata.{key[:64]}: keys at most 64 characters, values at most 512")
        return value

    @field_validator("callback_url")
    @classmethod
    def _callback_is_http(cls, value: str | None) -> str | None:
        return check_http_url("callback_url", value)


class RequestCounts(BaseModel):
    total: int = 0
    completed: int = 0
    failed: int = 0


class BatchError(BaseModel):
    code: str | None = None
    line: int | None = None
    message: str | None = None
    param: str | None = None


class BatchErrors(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchError] = Field(default_factory=list)


class InputTokensDetails(BaseModel):
    cached_tokens: int = 0


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class BatchUsage(BaseModel):
    input_tokens: int = 0
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens: int = 0
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)
    total_tokens: int = 0


class BatchProgress(BaseModel):
    """The broker's live view of a batch: how its lines stand, and what they cost so far."""

    queued: int = 0  # lines whose job has not ended yet
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0  # cancelled or expired before they ran
    invalid: int = 0  # lines that never became a job
    cost_usd: float = 0.0


class BatchObject(BaseModel):
    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    errors: BatchErrors | None = None
    input_file_id: str
    completion_window: str
    status: BatchStatus
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: RequestCounts
    metadata: dict[str, str] | None = None
    usage: BatchUsage | None = None
    progress: BatchProgress | None = None
