"""Which buckets a job draws on, and how much from each. Pure: config and job in, draws out.

Axes: ``in`` (input tokens), ``out`` (the output reservation: ``max_tokens`` or the model's
default), ``req`` (one request, for a provider's RPM). Scopes: the team, the API key
(the team's ``key_limits``, one bucket per key) and the provider model. An axis without
a configured limit has no bucket: unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from broker import keys
from schemas.config import BrokerConfig, TokenLimits

Axis = Literal["in", "out", "req"]
MS_PER_MINUTE = 60_000


@dataclass(frozen=True)
class Charge:
    key: str
    capacity: float
    rate: float  # tokens per millisecond
    cost: float
    axis: Axis
    scope: str  # team | key | model
    name: str  # the team, key id or model
    label: str  # for people: "team search output tokens/min (limit ..., burst ...)"


def _axis_charges(scope: str, name: str, limits: TokenLimits, input_tokens: int, output_tokens: int) -> list[Charge]:
    charges = []
    axes: list[tuple[Axis, int | None, int | None, int, str]] = [
        ("in", limits.input_tpm, limits.input_burst, input_tokens, "input tokens/min"),
        ("out", limits.output_tpm, limits.output_burst, output_tokens, "output tokens/min"),
        ("req", limits.rpm, None, 1, "requests/min"),
    ]
    for axis, per_minute, burst, cost, what in axes:
        if per_minute is None:
            continue
        charges.append(
            Charge(
                key=keys.bucket(f"{scope}:{name}", axis),
                capacity=float(burst or per_minute),
                rate=per_minute / MS_PER_MINUTE,
                cost=float(cost),
                axis=axis,
                scope=scope,
                name=name,
                label=f"{scope} {name} {what} (limit {per_minute}, burst {burst or per_minute})",
            )
        )
    return charges


def output_reservation(max_tokens: int | None, model: str, config: BrokerConfig) -> int:
    return max_tokens if max_tokens is not None else config.models[model].default_max_tokens


def team_charges(config: BrokerConfig, team: str, key_id: str, input_tokens: int, output_tokens: int) -> list[Charge]:
    team_config = config.teams.get(team)
    if team_config is None:
        return []
    return [
        *_axis_charges("team", team, team_config.limits, input_tokens, output_tokens),
        *_axis_charges("key", key_id, team_config.key_limits, input_tokens, output_tokens),
    ]


def model_charges(config: BrokerConfig, model: str, input_tokens: int, output_tokens: int) -> list[Charge]:
    return _axis_charges("model", model, config.models[model].limits, input_tokens, output_tokens)


def job_charges(
    config: BrokerConfig, team: str, key_id: str, model: str, input_tokens: int, max_tokens: int | None
) -> list[Charge]:
    """Every bucket a job on ``model`` draws on, with the amounts reserved at admission."""
    output_tokens = output_reservation(max_tokens, model, config)
    return [
        *team_charges(config, team, key_id, input_tokens, output_tokens),
        *model_charges(config, model, input_tokens, output_tokens),
    ]


def first_too_big(charges: list[Charge]) -> Charge | None:
    """The first bucket the job could never fit in, however long it waited."""
    return next((c for c in charges if c.cost > c.capacity), None)


def fitting_candidates(
    config: BrokerConfig, team: str, key_id: str, candidates: list[str], tokens: list[int], max_tokens: int | None
) -> tuple[list[str], list[int]]:
    """Drop candidates whose own limits the job can never fit; refuse the job (422 naming the
    limit) when a team or key limit, or every candidate's limit, is too small for it."""
    from broker.errors import InvalidRequest

    kept: list[tuple[str, int]] = []
    too_big: Charge | None = None
    for model, input_tokens in zip(candidates, tokens, strict=True):
        output_tokens = output_reservation(max_tokens, model, config)
        scoped = first_too_big(team_charges(config, team, key_id, input_tokens, output_tokens))
        if scoped is not None:
            raise InvalidRequest(_never_message(scoped), param="max_tokens" if scoped.axis == "out" else "messages")
        own = first_too_big(model_charges(config, model, input_tokens, output_tokens))
        if own is None:
            kept.append((model, input_tokens))
        elif too_big is None:
            too_big = own
    if not kept:
        assert too_big is not None
        raise InvalidRequest(_never_message(too_big), param="max_tokens" if too_big.axis == "out" else "messages")
    return [m for m, _ in kept], [t for _, t in kept]


def _never_message(charge: Charge) -> str:
    return f"the job needs {charge.cost:.0f} of {charge.label}: it can never be admitted"
