"""Model behaviour at run time: config entries compiled into cheap lookups and samplers.

Resolved once per model name and cached, so the request path does a dict
lookup and at most one random draw.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from scripts.simulator.config import FixedLatency, LognormalLatency, ModelBehaviour, UniformLatency
from scripts.simulator.tokens import encoding_for_model

Z_95 = 1.6448536269514722
"""Standard normal quantile at 0.95: p95 = median * exp(Z_95 * sigma)."""


def latency_sampler(
    latency: FixedLatency | LognormalLatency | UniformLatency, rng: random.Random
) -> Callable[[], float]:
    """A zero-argument function drawing one time-to-first-byte in seconds."""
    if isinstance(latency, FixedLatency):
        seconds = latency.seconds
        return lambda: seconds
    if isinstance(latency, UniformLatency):
        low, high = latency.min, latency.max
        return lambda: rng.uniform(low, high)
    mu = math.log(latency.median)
    sigma = (math.log(latency.p95) - mu) / Z_95
    return lambda: rng.lognormvariate(mu, sigma)


@dataclass(frozen=True, slots=True)
class ModelRuntime:
    name: str
    output_tokens: int | tuple[int, int]
    sample_latency: Callable[[], float]
    tokens_per_second: float
    encoding: str


class ModelTable:
    """Behaviour by model name: exact entry, else first matching glob entry, else the default."""

    def __init__(self, models: Mapping[str, ModelBehaviour], default: ModelBehaviour, seed: int) -> None:
        self.models = dict(models)
        self.default = default
        self._rng = random.Random(seed ^ 0x1A7E)
        self._cache: dict[str, ModelRuntime] = {}

    def get(self, model: str) -> ModelRuntime:
        runtime = self._cache.get(model)
        if runtime is None:
            runtime = self._compile(model, self._behaviour(model))
            if len(self._cache) < 10_000:
                self._cache[model] = runtime
        return runtime

    def names(self) -> list[str]:
        """Configured model names that are not globs (for ``GET /v1/models``)."""
        return [name for name in self.models if not any(ch in name for ch in "*?[")]

    def _behaviour(self, model: str) -> ModelBehaviour:
        if model in self.models:
            return self.models[model]
        for pattern, behaviour in self.models.items():
            if fnmatchcase(model, pattern):
                return behaviour
        return self.default

    def _compile(self, model: str, behaviour: ModelBehaviour) -> ModelRuntime:
        return ModelRuntime(
            name=model,
            output_tokens=behaviour.output_tokens,
            sample_latency=latency_sampler(behaviour.latency, self._rng),
            tokens_per_second=behaviour.tokens_per_second,
            encoding=behaviour.encoding or encoding_for_model(model),
        )
