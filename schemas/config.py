"""The broker's configuration: one validated model, loaded from YAML and environment.

Loading (files, environment) lives in ``broker.settings``; this module only says what a
valid configuration is, so every process (API, scheduler, workers, CLI) agrees on it.
Unknown keys are refused so that a misspelt limit fails loudly at start-up.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.chat import Tier
from schemas.urls import check_http_url

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


class PriceChange(Strict):
    """A list price that applies from 00:00 UTC of ``from`` on (US dollars per million tokens)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    effective_from: date = Field(alias="from")
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class Price(Strict):
    """US dollars per million tokens.

    ``input``/``output``/``cached_input`` apply until the first entry of ``price_history``;
    each entry applies from its date on (``broker.pricing.rates_at`` picks one for a moment).
    """

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    price_history: list[PriceChange] = Field(default_factory=list)

    @field_validator("price_history")
    @classmethod
    def _dates_increase(cls, changes: list[PriceChange]) -> list[PriceChange]:
        dates = [change.effective_from for change in changes]
        if any(b <= a for a, b in pairwise(dates)):
            raise ValueError("price_history: dates must be strictly increasing")
        return changes


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


BudgetPolicy = Literal["alert", "block", "downgrade"]


class BudgetConfig(Strict):
    """A team's monthly budget in US dollars, and what happens when it is spent.

    ``thresholds`` are fractions of the budget that each fire one alert per period;
    at 1.0 the ``policy`` applies: ``block`` refuses new jobs (HTTP 402), ``downgrade``
    routes them to the cheapest model of the cheapest tier, ``alert`` only alerts.
    ``features`` caps single features of the team the same way.
    """

    monthly_usd: float = Field(gt=0)
    policy: BudgetPolicy = "alert"
    thresholds: list[float] = Field(default_factory=lambda: [0.5, 0.8, 1.0])
    features: dict[str, float] = Field(default_factory=dict, description="feature -> monthly US dollars")

    @field_validator("thresholds")
    @classmethod
    def _thresholds_are_fractions(cls, values: list[float]) -> list[float]:
        if not values or any(not 0 < v <= 10 for v in values):
            raise ValueError("thresholds: give fractions of the budget such as [0.5, 0.8, 1.0]")
        return sorted(set(values))

    @field_validator("features")
    @classmethod
    def _feature_budgets_positive(cls, values: dict[str, float]) -> dict[str, float]:
        for feature, usd in values.items():
            if usd <= 0:
                raise ValueError(f"features.{feature}: a budget must be more than 0")
        return values


class TeamConfig(Strict):
    weight: float = Field(default=1.0, gt=0)
    budget: BudgetConfig | None = None
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
    dispatch_linger_ms: float = Field(
        default=2.0, ge=0, description="after a round that dispatched jobs, wait this long for more to batch"
    )
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
    drain_timeout_s: float = Field(
        default=20.0, ge=0, description="on shutdown, how long calls in flight may finish before being requeued"
    )


class SimulatorSettings(Strict):
    port: int = Field(default=8900, gt=0, lt=65536)
    latency_s: float = Field(default=0.3, ge=0)


class LedgerConfig(Strict):
    """Where the usage sink writes Parquet and how it batches and compacts."""

    location: str | None = Field(
        default=None,
        description="a folder, or a URL pyarrow understands (s3://bucket/prefix, gs://..., file:///...); "
        "unset: $home/ledger",
    )
    batch_size: int = Field(default=10_000, gt=0, description="most stream entries one Parquet write takes")
    block_ms: int = Field(default=1000, gt=0, description="longest wait for new entries before writing a batch")
    claim_idle_s: float = Field(
        default=60.0, gt=0, description="entries another sink read but left unacknowledged this long are taken over"
    )
    compact_interval_s: float = Field(default=60.0, gt=0)
    compact_min_files: int = Field(default=8, ge=2, description="small files in a partition that trigger a merge")
    compact_target_mb: float = Field(default=128.0, gt=0, description="files this big are left alone")


class AlertsConfig(Strict):
    """Budget alerts: a Standard Webhooks POST (optionally a Slack-compatible body), a log line
    and a dashboard banner. The signing secret is read from ``secret_env`` (``whsec_...``)."""

    webhook_url: str | None = None
    secret_env: str = "BUDGET_WEBHOOK_SECRET"
    format: Literal["standard", "slack"] = "standard"
    timeout_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=8, ge=1, description="delivery attempts before an alert is given up")
    reconcile_interval_s: float = Field(default=300.0, gt=0, description="budget counters vs ledger")
    sweep_interval_s: float = Field(default=30.0, gt=0, description="thresholds re-checked for every team")

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_http(cls, value: str | None) -> str | None:
        return check_http_url("webhook_url", value)


class ChromaSettings(Strict):
    """Where the semantic layer keeps its vectors. ``embedded`` is one process's
    ``PersistentClient`` (run one cache worker); ``http`` is a shared Chroma server."""

    mode: Literal["embedded", "http"] = "embedded"
    path: str | None = Field(default=None, description="embedded: folder of the vectors (default $home/chroma)")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    ssl: bool = False


class CacheConfig(Strict):
    """The answer cache: an exact layer in Redis, then a semantic layer in Chroma.

    ``threshold`` is the cosine similarity a semantic hit needs; ``same_words_threshold`` the
    lower one enough when the guard reads both prompts as the same content words (typos and
    synonyms move the embedding, not the meaning). The shipped values come from
    ``llm-broker cache calibrate`` (see docs/benchmarks.md) and are only trustworthy with the
    near-miss ``guard`` on.
    """

    enabled: bool = True
    semantic: bool = True
    guard: bool = True
    threshold: float = Field(default=0.81, gt=0, le=1)
    same_words_threshold: float = Field(
        default=0.81,
        gt=0,
        le=1,
        description="similarity enough for a pair the guard reads as the same words (never above threshold)",
    )
    candidates: int = Field(default=16, gt=0, le=100, description="nearest entries checked per semantic lookup")
    max_temperature: float | None = Field(
        default=0.0, ge=0, description="requests up to this temperature are cacheable; null: any temperature"
    )
    unset_temperature: float = Field(default=1.0, ge=0, description="temperature assumed when a request sets none")
    ttl_s: float = Field(default=7 * 24 * 3600, gt=0)
    max_entries_per_scope: int = Field(default=10_000, gt=0)
    org_scope_teams: list[str] = Field(
        default_factory=list, description="teams that share one org-wide cache (all others: one cache per team)"
    )
    embedder: str = Field(
        default="minilm",
        description="minilm (offline all-MiniLM-L6-v2 on ONNX Runtime), minilm-torch (the same on torch), "
        "or module:factory returning an Embedder",
    )
    lookup_timeout_s: float = Field(
        default=30.0, gt=0, description="a job whose lookup has not run by then goes to its queue uncached"
    )
    worker_concurrency: int = Field(default=2, gt=0, description="Celery threads of the cache worker")
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)


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
    cache: CacheConfig = Field(default_factory=CacheConfig)
    batches: BatchesConfig = Field(default_factory=BatchesConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    providers: dict[str, ProviderConfig]
    models: dict[str, ModelConfig]
    tiers: dict[Tier, list[str]] = Field(default_factory=dict)
    default_tier: Tier = "standard"
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    api_keys: list[ApiKeyConfig] = Field(default_factory=list)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)

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

    @model_validator(mode="after")
    def _cache_teams_exist(self) -> BrokerConfig:
        for team in self.cache.org_scope_teams:
            if team not in self.teams:
                raise ValueError(f"cache.org_scope_teams: unknown team {team!r}")
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
