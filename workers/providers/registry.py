"""Build one adapter per configured provider, keys read from the environment only."""

from __future__ import annotations

import os

from schemas.config import BrokerConfig, ProviderConfig
from workers.providers.anthropic_adapter import AnthropicAdapter
from workers.providers.base import ProviderAdapter
from workers.providers.openai_adapter import OpenAIAdapter

SIMULATED_KEY = "sk-simulated"


def provider_key(provider: ProviderConfig) -> str:
    """The real key from the environment, or a placeholder the simulated provider accepts."""
    key = os.environ.get(provider.api_key_env)
    if key:
        return key
    if provider.simulate == "never":
        raise RuntimeError(f"environment variable {provider.api_key_env} is not set")
    return SIMULATED_KEY


def build_adapters(config: BrokerConfig, max_connections: int) -> dict[str, ProviderAdapter]:
    adapters: dict[str, ProviderAdapter] = {}
    for name, provider in config.providers.items():
        cls = OpenAIAdapter if provider.kind == "openai" else AnthropicAdapter
        adapters[name] = cls(provider_key(provider), provider.base_url, provider.timeout_s, max_connections)
    return adapters
