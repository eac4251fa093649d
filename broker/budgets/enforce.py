"""Budget enforcement at submit: a blocked team's job is refused, a downgraded team's job
is routed to the cheapest model of the cheapest tier, everything else passes untouched."""

from __future__ import annotations

import dataclasses
import logging

from redis.asyncio import Redis

from broker.admission.limits import fitting_candidates
from broker.budgets.policy import BudgetState, worst
from broker.budgets.store import BudgetStore
from broker.errors import BudgetExceeded
from broker.jobstore.records import NewJob
from broker.pricing import cheapest_model, rates_at
from broker.tokens import count_input_tokens
from schemas.config import BrokerConfig

log = logging.getLogger("llm_broker.budgets")


def downgrade_candidates(config: BrokerConfig, when: float) -> list[str]:
    """The cheapest model of the cheapest tier, then that tier's other models by price."""
    first = cheapest_model(config, when)
    tier = config.models[first].tier
    others = [name for name in config.tier_candidates(tier) if name != first]
    others.sort(key=lambda name: (rates_at(config.models[name].price, when).input, name))
    return [first, *others]


def blocked_message(state: BudgetState) -> str:
    b = state.budget
    feature = f" --feature {b.feature}" if b.feature else ""
    return (
        f"budget exceeded: {state.describe()}, so new jobs are refused until the month ends or an admin "
        f"raises the budget (PUT /v1/budgets/{b.team} or `llm-broker budgets set --team {b.team}{feature} --usd N`)"
    )


def apply_decision(job: NewJob, state: BudgetState | None, config: BrokerConfig, now: float) -> NewJob:
    """Pure: the job as the budget state lets it run, or BudgetExceeded."""
    if state is None or state.action == "run":
        return job
    if state.action == "block":
        raise BudgetExceeded(blocked_message(state))
    candidates = downgrade_candidates(config, now)
    model = config.models[candidates[0]]
    tokens = [count_input_tokens(job.request.chat(), config.models[name].tokenizer) for name in candidates]
    if tokens[0] + (job.request.output_cap() or 0) > model.context_window:
        raise BudgetExceeded(
            f"{blocked_message(state)}; the job does not fit the context window of {candidates[0]}, the model "
            "spent budgets are downgraded to"
        )
    candidates, tokens = fitting_candidates(config, job.team, job.key_id, candidates, tokens, job.request.output_cap())
    # the downgraded chain is also the order the scheduler's router returns to as health allows
    return dataclasses.replace(
        job, candidates=candidates, candidate_tokens=tokens, preferred=list(candidates), tier=model.tier
    )


class BudgetGate:
    """The budget check for many jobs at one moment (a batch's lines): each (team, feature)
    budget state is read once."""

    def __init__(self, config: BrokerConfig, redis: Redis, now: float) -> None:
        self._store = BudgetStore(redis, config)
        self._config = config
        self._now = now
        self._states: dict[tuple[str, str], BudgetState | None] = {}

    async def apply(self, job: NewJob) -> NewJob:
        scope = (job.team, job.request.metadata.feature)
        if scope not in self._states:
            self._states[scope] = worst(await self._store.states(scope[0], scope[1], self._now))
        decisive = self._states[scope]
        changed = apply_decision(job, decisive, self._config, self._now)
        if changed is not job and decisive is not None:
            log.info("job %s downgraded to %s: %s", job.id, changed.candidates[0], decisive.describe())
        return changed


async def enforce_budget(job: NewJob, config: BrokerConfig, redis: Redis, now: float) -> NewJob:
    """The submit hook: read the team's and feature's budget state and apply it."""
    return await BudgetGate(config, redis, now).apply(job)
