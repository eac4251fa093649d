"""The job request: an OpenAI chat-completions body plus the broker's own fields.

Unknown fields are refused (422 naming the field) rather than silently dropped, so a
typo such as ``max_token`` never turns into a surprise bill.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.urls import check_http_url

Role = Literal["system", "developer", "user", "assistant", "tool"]
Tier = Literal["simple", "standard", "complex"]
TierChoice = Literal["simple", "standard", "complex", "auto"]


class TextPart(BaseModel):
    """One text part of a multi-part message; other part types are not supported yet."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str | list[TextPart]
    name: str | None = Field(default=None, max_length=64)

    def text(self) -> str:
        """The message's text, with multi-part content joined, for counting and caching."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class JobMetadata(BaseModel):
    """Attribution labels carried to the usage ledger; ``feature`` is the one reports group by."""

    model_config = ConfigDict(extra="allow")
    feature: str = Field(default="default", min_length=1, max_length=128)

    @model_validator(mode="after")
    def _extra_are_short_strings(self) -> JobMetadata:
        for key, value in (self.model_extra or {}).items():
            if not isinstance(value, str) or len(value) > 512:
                raise ValueError(f"metadata.{key} must be a string of at most 512 characters")
        return self


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False


class CacheControl(BaseModel):
    """Per-request cache policy: ``use`` (default) reads and writes, ``refresh`` skips the read
    but stores the new answer, ``bypass`` neither reads nor writes."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["use", "refresh", "bypass"] = "use"
    threshold: float | None = Field(default=None, gt=0, le=1)


class PromptRef(BaseModel):
    """A job built from a registered prompt template instead of literal ``messages``."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)
    version: int | None = Field(default=None, ge=1)
    variables: dict[str, Any] = Field(default_factory=dict)
    subject: str | None = Field(default=None, max_length=256, description="sticky key for experiment assignment")


class JobRequest(BaseModel):
    """What a caller submits; ``model`` names a configured model, ``tier`` a quality tier."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, min_length=1, max_length=128)
    tier: TierChoice | None = None
    messages: list[ChatMessage] | None = Field(default=None, min_length=1, max_length=4096)
    prompt: PromptRef | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    n: Literal[1] | None = None
    response_format: dict[str, Any] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=256)

    metadata: JobMetadata = Field(default_factory=JobMetadata)
    cache: CacheControl | None = None
    callback_url: str | None = Field(default=None, max_length=2048)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    priority: int = Field(default=0, ge=-10, le=10)
    latency_sla_ms: int | None = Field(
        default=None, gt=0, le=3_600_000, description="skip models whose recent latency is above this"
    )

    @field_validator("callback_url")
    @classmethod
    def _callback_is_http(cls, value: str | None) -> str | None:
        return check_http_url("callback_url", value)

    @model_validator(mode="after")
    def _model_or_tier(self) -> JobRequest:
        if self.messages is None and self.prompt is None:
            raise ValueError("messages: give messages, or a prompt template reference")
        if self.messages is not None and self.prompt is not None:
            raise ValueError("prompt: give either messages or prompt, not both")
        if self.model is not None and self.tier is not None:
            raise ValueError("tier: give either model or tier, not both")
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise ValueError("max_completion_tokens: give either max_tokens or max_completion_tokens, not both")
        return self

    def chat(self) -> list[ChatMessage]:
        """The messages to send; a template job has them once the prompt is rendered at submit."""
        if self.messages is None:
            raise ValueError("prompt template not rendered")
        return self.messages

    def output_cap(self) -> int | None:
        """The caller's output-token cap, whichever of the two OpenAI spellings it used."""
        return self.max_tokens if self.max_tokens is not None else self.max_completion_tokens

    def sampling(self) -> dict[str, Any]:
        """Sampling parameters forwarded to the provider (only those the caller set)."""
        fields = ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}
