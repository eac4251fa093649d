"""Prompt templates: versions, declared variables, experiment splits and outcome feedback.

A template belongs to one team and has immutable numbered versions. Its messages carry
``{{name}}`` slots for declared variables only; rendering (``broker.prompts.render``)
fills them with plain text. Ids are qualified by the owning team (``alpha/summarize``)
wherever a template leaves its team: on jobs, in the usage ledger, in cache keys.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.chat import Role, TierChoice

VarType = Literal["string", "integer", "number", "boolean", "enum"]
VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
TEMPLATE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_VALUE_LENGTH = 100_000
SPLIT_BUCKETS = 10_000  # a split's resolution: one bucket is 0.01 %


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VariableSpec(Strict):
    """One declared variable. ``max_length`` bounds the rendered text of the value."""

    name: str = Field(pattern=VARIABLE_NAME)
    type: VarType = "string"
    max_length: int = Field(default=4000, ge=1, le=MAX_VALUE_LENGTH)
    allowed: list[str] | None = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _allowed_only_for_enums(self) -> VariableSpec:
        if self.type == "enum" and not self.allowed:
            raise ValueError("allowed: an enum variable needs its allowed values")
        if self.type != "enum" and self.allowed is not None:
            raise ValueError("allowed: only an enum variable has allowed values")
        return self


class TemplateMessage(Strict):
    role: Role
    content: str = Field(min_length=1, max_length=200_000)


class TemplateParams(Strict):
    """Defaults a job gets when it does not set them itself."""

    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    response_format: dict[str, Any] | None = None


class TemplateDraft(Strict):
    """What an author publishes; the broker numbers it and records who and when."""

    messages: list[TemplateMessage] = Field(min_length=1, max_length=256)
    variables: list[VariableSpec] = Field(default_factory=list, max_length=64)
    model: str | None = Field(default=None, min_length=1, max_length=128)
    tier: TierChoice | None = None
    params: TemplateParams = Field(default_factory=TemplateParams)
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> TemplateDraft:
        if self.model is not None and self.tier is not None:
            raise ValueError("tier: give either model or tier, not both")
        seen: set[str] = set()
        for index, variable in enumerate(self.variables):
            if variable.name in seen:
                raise ValueError(f"variables[{index}].name: {variable.name!r} is declared twice")
            seen.add(variable.name)
        return self


class TemplateVersion(TemplateDraft):
    """One immutable version; ``retired`` is the only thing that changes after publishing."""

    template_id: str = Field(description="owner/name")
    version: int = Field(ge=1)
    author: str
    created_at: float
    retired: bool = False


class VersionSummary(BaseModel):
    version: int
    author: str
    note: str
    created_at: float
    retired: bool


class TemplateView(BaseModel):
    id: str = Field(description="owner/name")
    owner: str
    name: str
    latest: int
    versions: list[VersionSummary]
    split: dict[int, float] | None = Field(default=None, description="active experiment: version -> percent")
    shared_with: list[str] = Field(default_factory=list)


class SplitRequest(Strict):
    """An experiment: version -> percent of subjects, summing to 100 in steps of 0.01."""

    weights: dict[int, float] = Field(min_length=1, max_length=16)

    @field_validator("weights")
    @classmethod
    def _percentages(cls, weights: dict[int, float]) -> dict[int, float]:
        for version, percent in weights.items():
            if version < 1:
                raise ValueError(f"version {version} does not exist")
            if not math.isfinite(percent) or percent <= 0 or percent > 100:
                raise ValueError(f"{version}: a share is a percentage above 0 and at most 100")
            if abs(percent * 100 - round(percent * 100)) > 1e-6:
                raise ValueError(f"{version}: shares have at most two decimals")
        if sum(round(p * 100) for p in weights.values()) != SPLIT_BUCKETS:
            raise ValueError("shares must add up to 100")
        return weights

    def buckets(self) -> dict[int, int]:
        """Each version's share in buckets of 0.01 %."""
        return {version: round(percent * 100) for version, percent in self.weights.items()}


class ShareRequest(Strict):
    teams: list[str] = Field(max_length=256, description="teams that may read and use the template")


class FeedbackRequest(Strict):
    """The outcome of one job, e.g. a rating or an evaluation score."""

    score: float = Field(ge=-1e9, le=1e9)
    label: str | None = Field(default=None, min_length=1, max_length=128)


class FeedbackRecord(BaseModel):
    """One feedback row in the ledger; the latest per job wins in reports."""

    job_id: str
    team: str
    feature: str
    template_id: str | None = None
    template_version: int | None = None
    score: float
    label: str | None = None
    created_at: float


class VersionReport(BaseModel):
    """One version's jobs, spend, speed and outcome, from the ledger; the score difference is
    against the report's baseline version, with its confidence interval (Welch's t)."""

    version: int
    jobs: int
    succeeded: int
    failed: int
    failure_rate: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cost_per_job_usd: float
    mean_latency_ms: float | None
    p95_latency_ms: float | None
    cache_hit_rate: float
    scored: int
    mean_score: float | None
    score_sd: float | None
    score_diff: float | None = None
    score_diff_low: float | None = None
    score_diff_high: float | None = None


class PromptReport(BaseModel):
    template_id: str
    baseline: int | None
    level: float
    versions: list[VersionReport]
