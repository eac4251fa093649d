"""The budget decision, pure: given spend, budget, thresholds and policy, what state is a
team (or one of its features) in, which thresholds has it crossed, and what happens to
its next job. Redis and HTTP live elsewhere; this is what the tests pin down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.config import BrokerConfig, BudgetConfig

Action = Literal["run", "block", "downgrade"]
DEFAULT_THRESHOLDS = (0.5, 0.8, 1.0)
_SEVERITY: dict[str, int] = {"run": 0, "downgrade": 1, "block": 2}


@dataclass(frozen=True)
class Budget:
    """One budget that applies to a job: the team's, or one feature's of the team."""

    team: str
    feature: str | None
    usd: float
    thresholds: tuple[float, ...]
    policy: str

    @property
    def scope(self) -> str:
        return self.team if self.feature is None else f"{self.team}/{self.feature}"


@dataclass(frozen=True)
class BudgetState:
    budget: Budget
    spend_usd: float
    fraction: float
    crossed: tuple[float, ...]  # thresholds reached, lowest first
    action: Action  # what happens to the next job of this scope

    @property
    def exhausted(self) -> bool:
        return self.fraction >= 1.0

    def describe(self) -> str:
        """The sentence callers and alert receivers read."""
        b = self.budget
        return (
            f"{b.scope} has spent ${self.spend_usd:,.2f} of its ${b.usd:,.2f} monthly budget "
            f"({self.fraction:.0%}; policy {b.policy})"
        )


def budget_state(spend_usd: float, budget_usd: float, thresholds: tuple[float, ...], policy: str) -> BudgetState:
    """Thresholds crossed and the action for the next job: at or past 100 % the policy
    applies (``block`` or ``downgrade``; ``alert`` keeps running), below it jobs run."""
    return evaluate(Budget("", None, budget_usd, thresholds, policy), spend_usd)


def evaluate(budget: Budget, spend_usd: float) -> BudgetState:
    fraction = spend_usd / budget.usd if budget.usd > 0 else float("inf")
    # compare in integer nano-dollars so "exactly at the threshold" is not lost to rounding
    spend_nano = round(spend_usd * 1e9)
    crossed = tuple(t for t in sorted(budget.thresholds) if spend_nano >= round(t * budget.usd * 1e9))
    action: Action = "run"
    if spend_nano >= round(budget.usd * 1e9) and budget.policy in ("block", "downgrade"):
        action = budget.policy  # type: ignore[assignment]
    return BudgetState(budget, spend_usd, fraction, crossed, action)


def worst(states: list[BudgetState]) -> BudgetState | None:
    """The state that decides a job: the most severe action, then the fullest budget."""
    if not states:
        return None
    return max(states, key=lambda s: (_SEVERITY[s.action], s.fraction))


def budgets_for(
    config: BrokerConfig, team: str, feature: str | None, overrides: dict[tuple[str, str | None], float]
) -> list[Budget]:
    """The budgets a job of ``team`` (and ``feature``) is charged against: the team's and,
    if one is set, its feature's. An admin's override replaces the configured amount (and
    may create a budget the file lacks; it then only alerts)."""
    team_config = config.teams.get(team)
    configured: BudgetConfig | None = team_config.budget if team_config else None
    policy = configured.policy if configured else "alert"
    thresholds = tuple(configured.thresholds) if configured else DEFAULT_THRESHOLDS
    found = []
    team_usd = overrides.get((team, None), configured.monthly_usd if configured else None)
    if team_usd is not None:
        found.append(Budget(team, None, team_usd, thresholds, policy))
    if feature is not None:
        feature_usd = overrides.get((team, feature), configured.features.get(feature) if configured else None)
        if feature_usd is not None:
            found.append(Budget(team, feature, feature_usd, thresholds, policy))
    return found


def budgeted_scopes(
    config: BrokerConfig, overrides: dict[tuple[str, str | None], float]
) -> list[tuple[str, str | None]]:
    """Every (team, feature) with a budget, from the file and from overrides."""
    scopes: set[tuple[str, str | None]] = set(overrides)
    for team, team_config in config.teams.items():
        if team_config.budget is not None:
            scopes.add((team, None))
            scopes.update((team, feature) for feature in team_config.budget.features)
    return sorted(scopes, key=lambda s: (s[0], s[1] or ""))


def threshold_label(threshold: float) -> str:
    """``0.8`` -> ``80``: how a threshold is named in keys and alerts."""
    return f"{threshold * 100:g}"
