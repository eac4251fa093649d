"""Weighted fair share across team queues, by tokens (start-time fair queuing, in batches).

Every team carries a virtual *finish tag*: the tokens it has been admitted, divided by its
weight, on a clock shared by all teams. Teams are offered admission in order of their next
*start tag* (their finish tag, or the current virtual time if they were idle), so:

- a team that just arrived starts at the current virtual time, ahead of any team that has
  been busy, and is served at the next refill even behind a 100k-job backlog;
- a team cannot bank credit while it waits (on its own limits, or idle): its start tag is
  never behind the shared clock;
- over time, admitted tokens follow the weights.

Each turn a team may take a batch of up to ``quantum * weight`` tokens (at least one job),
which keeps Redis round trips few without giving up fairness. Pure: state in, decisions out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class FairShare:
    quantum: float
    weights: dict[str, float]
    finish: dict[str, float] = field(default_factory=dict)
    now: float = 0.0  # virtual time: the start tag of the batch admitted last

    def weight(self, team: str) -> float:
        return self.weights.get(team, 1.0)

    def start_tag(self, team: str) -> float:
        return max(self.finish.get(team, 0.0), self.now)

    def order(self, teams: Sequence[str]) -> list[str]:
        """Teams to offer this round, smallest start tag first (ties by name, for determinism)."""
        return sorted(teams, key=lambda team: (self.start_tag(team), team))

    def affordable(self, team: str, costs: Sequence[float]) -> int:
        """How many jobs from the head of the queue this turn may take: a batch of at most one
        quantum (scaled by weight), and always at least the head job."""
        allowance = self.quantum * self.weight(team)
        total, count = 0.0, 0
        for cost in costs:
            if count and total + cost > allowance:
                break
            total += cost
            count += 1
        return count

    def spend(self, team: str, tokens: float) -> None:
        """Advance the team's tag by what it was admitted; the shared clock follows."""
        if tokens <= 0:
            return
        start = self.start_tag(team)
        self.now = start
        self.finish[team] = start + tokens / self.weight(team)

    def forget_idle(self, active: Sequence[str]) -> None:
        """Drop tags that no longer matter (idle teams behind the clock) to bound memory."""
        keep = set(active)
        self.finish = {t: tag for t, tag in self.finish.items() if t in keep or tag > self.now}
