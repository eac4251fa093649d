"""The confidence interval for a difference in mean outcome score between two versions.

Welch's t interval: it does not assume the two versions' scores have equal variance,
which an A/B of prompts has no reason to give, and needs only each group's count, mean
and sample variance (so DuckDB aggregates and no score list leaves the query).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import t as student_t


@dataclass(frozen=True)
class MeanDifference:
    """``diff`` = mean(b) - mean(a), with its ``level`` confidence interval [low, high]."""

    diff: float
    low: float
    high: float
    df: float
    level: float


def welch_interval(
    n_a: int, mean_a: float, var_a: float, n_b: int, mean_b: float, var_b: float, level: float = 0.95
) -> MeanDifference | None:
    """None when either group has fewer than two scores (no variance to estimate)."""
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    if n_a < 2 or n_b < 2:
        return None
    se_a, se_b = var_a / n_a, var_b / n_b
    se2 = se_a + se_b
    diff = mean_b - mean_a
    if se2 == 0:
        return MeanDifference(diff, diff, diff, float(n_a + n_b - 2), level)
    df = se2**2 / (se_a**2 / (n_a - 1) + se_b**2 / (n_b - 1))
    half = float(student_t.ppf((1 + level) / 2, df)) * math.sqrt(se2)
    return MeanDifference(diff, diff - half, diff + half, df, level)
