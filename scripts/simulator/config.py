"""Configuration of the simulated provider server.

Validated with pydantic once, at start-up or on a control-API update; the
request path never touches these models (``models.py`` and ``faults.py``
compile them into plain runtime objects). Everything has a default, so an
empty config is a working simulator: zero latency, 24 output tokens, no faults.

Example YAML::

    port: 8900
    seed: 7
    default: {output_tokens: 24}
    models:
      gpt-4o-mini: {output_tokens: [10, 40], latency: {kind: lognormal, median: 0.8, p95: 2.5}}
      claude-*: {output_tokens: 30, latency: 1.0, tokens_per_second: 60}
    faults:
      - {provider: openai, model: "gpt-4o*", kind: "429", rate: 0.05, retry_after: 2}
      - {provider: anthropic, kind: "529", flap: {down_fraction: 0.1, mean_down_s: 5, seed: 3}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FaultKind = Literal["429", "500", "503", "529", "400", "hang", "drop"]
FAULT_KINDS: tuple[str, ...] = ("429", "500", "503", "529", "400", "hang", "drop")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FixedLatency(_Strict):
    """Always the same time to first byte."""

    kind: Literal["fixed"] = "fixed"
    seconds: float = Field(default=0.0, ge=0)


class LognormalLatency(_Strict):
    """Long-tailed time to first byte, given the way people quote it: median and p95."""

    kind: Literal["lognormal"]
    median: float = Field(gt=0)
    p95: float = Field(gt=0)

    @model_validator(mode="after")
    def _p95_not_below_median(self) -> LognormalLatency:
        if self.p95 < self.median:
            raise ValueError("p95 must be >= median")
        return self


class UniformLatency(_Strict):
    """Time to first byte uniformly between min and max seconds."""

    kind: Literal["uniform"]
    min: float = Field(ge=0)
    max: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> UniformLatency:
        if self.max < self.min:
            raise ValueError("max must be >= min")
        return self


Latency = Annotated[FixedLatency | LognormalLatency | UniformLatency, Field(discriminator="kind")]


class ModelBehaviour(_Strict):
    """How one model (or the default) answers.

    ``output_tokens`` is a fixed count or an inclusive ``[min, max]`` range from
    which each request's count is chosen deterministically by its seed; it is
    always capped by the request's ``max_tokens``. ``latency`` is the time to
    first byte (a bare number means fixed seconds). ``tokens_per_second`` paces
    generation after that (0 = instant), for streams and non-streams alike.
    ``encoding`` overrides the tokenizer used for OpenAI-protocol prompt counts.
    """

    output_tokens: int | tuple[int, int] = 24
    latency: Latency = Field(default_factory=FixedLatency)
    tokens_per_second: float = Field(default=0.0, ge=0)
    encoding: Literal["o200k_base", "cl100k_base"] | None = None

    @field_validator("latency", mode="before")
    @classmethod
    def _bare_number_is_fixed(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"kind": "fixed", "seconds": value}
        if isinstance(value, dict) and "kind" not in value:
            return {"kind": "fixed", **value}
        return value

    @field_validator("output_tokens")
    @classmethod
    def _valid_count(cls, value: int | tuple[int, int]) -> int | tuple[int, int]:
        low, high = (value, value) if isinstance(value, int) else value
        if low < 0 or high < low:
            raise ValueError("output_tokens must be >= 0, and a range must be [min, max] with min <= max")
        return value


class FlapSpec(_Strict):
    """A provider that is down in random windows covering ``down_fraction`` of the time.

    Down windows last ``mean_down_s`` on average (exponential); the up windows
    between them are sized so that the long-run down share is ``down_fraction``.
    The same ``seed`` always gives the same windows.
    """

    down_fraction: float = Field(gt=0, lt=1)
    mean_down_s: float = Field(gt=0)
    seed: int = 0


class FaultRule(_Strict):
    """One fault-injection rule.

    Matches requests by ``provider`` and ``model`` (shell globs). It is active
    while inside one of the ``schedule`` windows (seconds since the rule was
    installed) and while its ``flap`` says down; a trigger left unset is always
    satisfied. An active rule fires with probability ``rate`` (default 1). The
    first firing rule, in list order, decides the request's fate.
    """

    provider: str = "*"
    model: str = "*"
    kind: FaultKind
    rate: float | None = Field(default=None, ge=0, le=1)
    schedule: list[tuple[float, float]] | None = None
    flap: FlapSpec | None = None
    retry_after: float = Field(default=1.0, ge=0)
    hang_s: float = Field(default=600.0, ge=0)
    delay_s: float = Field(default=0.0, ge=0)
    message: str | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _status_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("schedule")
    @classmethod
    def _ordered_windows(cls, value: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        for start, end in value or []:
            if end < start:
                raise ValueError(f"schedule window [{start}, {end}] ends before it starts")
        return value


class SimulatorConfig(_Strict):
    """The whole simulator: where it listens, how models behave, which faults fire."""

    host: str = "127.0.0.1"
    port: int = Field(default=8900, ge=0, le=65535)
    seed: int = 0
    default: ModelBehaviour = Field(default_factory=ModelBehaviour)
    models: dict[str, ModelBehaviour] = Field(default_factory=dict)
    faults: list[FaultRule] = Field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SimulatorConfig:
        return cls.model_validate(data or {})

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimulatorConfig:
        """Load from a YAML (or JSON, which is YAML) file; an empty file is the default config."""
        return cls.from_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def load_config(source: SimulatorConfig | dict[str, Any] | str | Path | None = None) -> SimulatorConfig:
    """Accept whatever a caller has at hand: a config, a dict, a YAML path, or nothing."""
    if isinstance(source, SimulatorConfig):
        return source
    if isinstance(source, str | Path):
        return SimulatorConfig.from_yaml(source)
    return SimulatorConfig.from_dict(source)


def apply_overrides(
    config: SimulatorConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    seed: int | None = None,
    latency: float | None = None,
    tokens_per_second: float | None = None,
) -> SimulatorConfig:
    """Command-line style overrides; ``latency`` and ``tokens_per_second`` apply to every model.

    Shared by ``python -m scripts.simulator`` and the broker's ``llm-broker simulate``.
    """
    update: dict[str, Any] = {
        key: value for key, value in (("host", host), ("port", port), ("seed", seed)) if value is not None
    }
    behaviour: dict[str, Any] = {}
    if latency is not None:
        behaviour["latency"] = FixedLatency(seconds=latency)
    if tokens_per_second is not None:
        behaviour["tokens_per_second"] = tokens_per_second
    if behaviour:
        update["default"] = config.default.model_copy(update=behaviour)
        update["models"] = {name: model.model_copy(update=behaviour) for name, model in config.models.items()}
    return SimulatorConfig.model_validate({**config.model_dump(), **update})


def parse_fault_rules(data: Any) -> list[FaultRule]:
    """Validate a control-API body: a list of rules (or ``{"faults": [...]}``)."""
    if isinstance(data, dict) and "faults" in data:
        data = data["faults"]
    if not isinstance(data, list):
        raise ValueError("expected a list of fault rules")
    return [FaultRule.model_validate(item) for item in data]
