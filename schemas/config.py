"""The broker's configuration: one validated model, loaded from YAML and environment.

Loading (files, environment) lives in ``broker.settings``; this module only says what a
valid configuration is, so every process (API, scheduler, workers, CLI) agrees on it.
Unknown keys are refused so that a misspelt limit fails loudly at start-up.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.chat import Tier

ProviderKind = Literal["openai", "anthropic"]
Tokenizer = Literal["o200k_base", "cl100k_base", "estimate"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderConfig(Strict):
    """An upstream account. ``kind`` picks the SDK; self-hosted servers speak the OpenAI protocol."""

    kind: ProviderKind
    base_url: str | None = None
    api_key_env: str = Field(description="environment variable holding the provider key (never the key)")
    simulate: Literal["auto", "always", "never"] = Field(
        default="auto", description="auto: use the simulated provider when the key variable is unset"
    )
    timeout_s: float = Field(default=120.0, gt=0)


class Price(Strict):
    """US dollars per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class TokenLimits(Strict):
    """Per-minute limits; ``None`` means unlimited on that axis.

    A bucket holds at most its burst (default: one minute's worth) and refills at the
    per-minute rate, so any 60 s window admits at most ``tpm + burst``.
    """

    input_tpm: int | None = Field(default=None, gt=0)
    output_tpm: int | None = Field(default=None, gt=0)
    input_burst: int | None = Field(default=None, gt=0)
    output_burst: int | None = Field(default=None, gt=0)
    rpm: int | None = Field(default=None, gt=0)


class ModelConfig(Strict):
    provider: str
    upstream: str = Field(description="the model name the provider knows")
    tier: Tier
    price: Price
    context_window: int = Field(default=128_000, gt=0)
    default_max_tokens: int = Field(default=1024, gt=0)
    tokenizer: Tokenizer = "estimate"
    fallbacks: list[str] = Field(default_factory=list)
    limits: TokenLimits = Field(default_factory=TokenLimits)
    latency_sla_ms: float | None = Field(
        default=None, gt=0, description="latency promised for this model; a recent EWMA above it marks it slow"
    )
    ttfb_timeout_s: float | None = Field(
        default=3.0, gt=0, description="no first byte by then: retryable timeout (null: plain call, no TTFB deadline)"
    )
    total_timeout_s: float | None = Field(
        default=None, gt=0, description="the whole answer by then: retryable timeout (null: the provider's timeout_s)"
    )


class TeamConfig(Strict):
    weight: float = Field(default=1.0, gt=0)
    limits: TokenLimits = Field(default_factory=TokenLimits)
    key_limits: TokenLimits = Field(
        default_factory=TokenLimits, description="limits applied to each API key of the team"
    )


class ApiKeyConfig(Strict):
    """A key provisioned in the file; only its SHA-256 is ever written down."""

    id: str
    team: str
    user: str = "default"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    admin: bool = False


class RedisConfig(Strict):
    url: str | None = Field(default=None, description="an external Redis; unset: start the embedded one")
    port: int = Field(default=6390, gt=0, lt=65536, description="port of the embedded Redis")


class ApiConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, gt=0, lt=65536)
    max_wait_s: float = Field(default=120.0, ge=0, description="longest Prefer: wait a caller may ask for")


class SchedulerConfig(Strict):
    max_batch: int = Field(default=64, gt=0, description="most jobs carried by one Celery message")
    quantum_tokens: int = Field(
        default=65_536, gt=0, description="fair-share credit a team of weight 1 earns per round, in tokens"
    )
    reap_interval_s: float = Field(default=1.0, gt=0)
    claim_timeout_s: float = Field(
        default=300.0, gt=0, description="an admitted job no worker claimed by then goes back to its queue"
    )


class WorkerConfig(Strict):
    max_in_flight: int = Field(default=1000, gt=0, description="provider calls one worker process holds")
    concurrency: int = Field(default=4, gt=0, description="Celery threads handing batches to the event loop")
    lease_ttl_s: float = Field(default=30.0, gt=0, description="a running job whose lease lapses is requeued")


class SimulatorSettings(Strict):
    port: int = Field(default=8900, gt=0, lt=65536)
    latency_s: float = Field(default=0.3, ge=0)


class HealthConfig(Strict):
    """Per provider model: a circuit breaker and a latency EWMA, shared in Redis by every process."""

    failure_threshold: int = Field(default=5, gt=0, description="consecutive failures that open the circuit")
    open_s: float = Field(default=10.0, gt=0, description="first open period; doubles on each failed probe")
    max_open_s: float = Field(default=120.0, gt=0)
    probe_timeout_s: float = Field(default=30.0, gt=0, description="a half-open probe slot is held this long")
    ewma_alpha: float = Field(default=0.2, gt=0, le=1, description="weight of the newest latency sample")
    latency_window_s: float = Field(
        default=60.0, gt=0, description="an EWMA older than this says nothing (the model gets traffic again)"
    )
    snapshot_ttl_s: float = Field(default=0.25, ge=0, description="routers cache the health snapshot this long")


class RoutingConfig(Strict):
    """Fallback and attempt bounds, and the routing-savings baseline."""

    attempts_per_candidate: int = Field(
        default=3, gt=0, description="a job makes at most this many attempts per candidate model in all"
    )
    default_retry_after_s: float = Field(default=1.0, ge=0, description="a 429 without retry-after waits this long")
    max_retry_after_s: float = Field(default=300.0, gt=0, description="a longer retry-after is clamped to this")
    reference_model: str | None = Field(
        default=None, description="routing_saved_usd baseline (default: the complex tier's first model)"
    )


class BrokerConfig(Strict):
    home: str = Field(default="var", description="folder for embedded Redis data, ledger and run files")
    redis: RedisConfig = Field(default_factory=RedisConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    health: HealthConfig = Field(default_factory=HealthConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    providers: dict[str, ProviderConfig]
    models: dict[str, ModelConfig]
    tiers: dict[Tier, list[str]] = Field(default_factory=dict)
    default_tier: Tier = "standard"
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    api_keys: list[ApiKeyConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> BrokerConfig:
        for name, model in self.models.items():
            if model.provider not in self.providers:
                raise ValueError(f"models.{name}.provider: unknown provider {model.provider!r}")
            for fallback in model.fallbacks:
                if fallback not in self.models:
                    raise ValueError(f"models.{name}.fallbacks: unknown model {fallback!r}")
        for tier, names in self.tiers.items():
            for name in names:
                if name not in self.models:
                    raise ValueError(f"tiers.{tier}: unknown model {name!r}")
        if self.routing.reference_model is not None and self.routing.reference_model not in self.models:
            raise ValueError(f"routing.reference_model: unknown model {self.routing.reference_model!r}")
        for key in self.api_keys:
            if key.team not in self.teams:
                raise ValueError(f"api_keys.{key.id}.team: unknown team {key.team!r}")
        return self

    def reference_model(self) -> str | None:
        """The model routing savings are measured against: what a caller would use without routing."""
        if self.routing.reference_model is not None:
            return self.routing.reference_model
        top = self.tier_candidates("complex")
        return top[0] if top else None

    def tier_candidates(self, tier: Tier) -> list[str]:
        """Models serving a tier, cheapest first unless the file orders them explicitly."""
        if tier in self.tiers:
            return list(self.tiers[tier])
        names = [name for name, model in self.models.items() if model.tier == tier]
        return sorted(names, key=lambda name: self.models[name].price.input + self.models[name].price.output)
