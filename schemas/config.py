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
    max_admission_wait_s: float = Field(
        default=30.0, ge=0, description="chat completions: answer 429 when admission would take longer than this"
    )


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


class BatchesConfig(Strict):
    """The OpenAI-compatible Batch API: uploaded files and the batches made of them."""

    max_file_bytes: int = Field(default=200 * 1024 * 1024, gt=0, description="largest upload, as OpenAI's")
    max_lines: int = Field(default=50_000, gt=0, description="most requests in one batch, as OpenAI's")
    max_completion_window_s: float = Field(
        default=3 * 86400, gt=0, description="longest completion_window accepted (finished jobs are kept 7 days)"
    )
    create_chunk: int = Field(default=500, gt=0, description="jobs created per Redis script call")
    keeper_interval_s: float = Field(default=0.5, gt=0, description="how often the batch keeper looks for work")
    recheck_s: float = Field(
        default=10.0, gt=0, description="an open batch is re-checked from its jobs' states at least this often"
    )
    validating_lease_s: float = Field(
        default=120.0, gt=0, description="a batch left validating this long (its creator died) is expanded again"
    )


class WebhooksConfig(Strict):
    """Signed callbacks (Standard Webhooks) per job and per batch, and what they may call."""

    allow_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs a callback may resolve into although private, loopback or link-local (e.g. 127.0.0.0/8)",
    )
    allow_hosts: list[str] = Field(default_factory=list, description="host names exempt from the address check")
    signing_key_env: str = Field(
        default="BROKER_WEBHOOK_KEY",
        description="variable holding the master key team secrets derive from; unset: a 0600 file under $home",
    )
    timeout_s: float = Field(default=10.0, gt=0, description="one delivery attempt's time limit")
    retry_base_s: float = Field(default=5.0, gt=0, description="first retry delay (doubles each attempt, jittered)")
    retry_cap_s: float = Field(default=3600.0, gt=0, description="longest delay between two attempts")
    retry_window_s: float = Field(default=86400.0, gt=0, description="give up (dead letter) this long after the event")
    max_in_flight: int = Field(default=200, gt=0, description="deliveries one webhook worker holds at once")
    poll_interval_s: float = Field(default=0.2, gt=0, description="how often an idle webhook worker looks for work")
    rotation_grace_s: float = Field(default=86400.0, ge=0, description="the previous secret also signs this long")

    @model_validator(mode="after")
    def _networks_parse(self) -> WebhooksConfig:
        import ipaddress

        for index, network in enumerate(self.allow_networks):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"allow_networks[{index}]: {exc}") from exc
        return self


class BrokerConfig(Strict):
    home: str = Field(default="var", description="folder for embedded Redis data, ledger and run files")
    redis: RedisConfig = Field(default_factory=RedisConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    batches: BatchesConfig = Field(default_factory=BatchesConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
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
        for key in self.api_keys:
            if key.team not in self.teams:
                raise ValueError(f"api_keys.{key.id}.team: unknown team {key.team!r}")
        return self

    def tier_candidates(self, tier: Tier) -> list[str]:
        """Models serving a tier, cheapest first unless the file orders them explicitly."""
        if tier in self.tiers:
            return list(self.tiers[tier])
        names = [name for name, model in self.models.items() if model.tier == tier]
        return sorted(names, key=lambda name: self.models[name].price.input + self.models[name].price.output)
