"""Bodies of the budget API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BudgetChange(BaseModel):
    """``PUT /v1/budgets/{team}``: a month's budget for the team (or one of its features)."""

    model_config = ConfigDict(extra="forbid")
    monthly_usd: float = Field(gt=0, le=1e12)
    feature: str | None = Field(default=None, min_length=1, max_length=128)
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="default: this month")
