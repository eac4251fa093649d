"""Load the one validated configuration from YAML plus environment overrides.

Lookup order for the file: an explicit path, ``$LLM_BROKER_CONFIG``, the effective
config that a running ``llm-broker up`` wrote under ``$home/run/``, then the sample.
That last-but-one step is what lets ``llm-broker keys create`` find the Redis that
``up`` started without extra flags.

Environment overrides use ``LLM_BROKER_<SECTION>__<KEY>`` (any depth, case-insensitive
keys); values are parsed as YAML scalars so ``9000`` is a number and ``null`` is None.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.config import BrokerConfig

ENV_PREFIX = "LLM_BROKER_"
CONFIG_ENV = "LLM_BROKER_CONFIG"
_NOT_OVERRIDES = {CONFIG_ENV}


class ConfigError(Exception):
    """The configuration file or environment does not describe a valid broker."""


def sample_config_path() -> Path:
    return Path(str(resources.files("broker").joinpath("sample_config.yaml")))


def home_dir() -> Path:
    """Where run files live; the environment wins so tests and `up` can isolate themselves."""
    return Path(os.environ.get(f"{ENV_PREFIX}HOME", "var")).resolve()


def effective_config_path(home: Path | None = None) -> Path:
    return (home or home_dir()) / "run" / "config.yaml"


def resolve_config_path(path: str | Path | None = None) -> Path:
    if path:
        return Path(path)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    running = effective_config_path()
    if running.exists():
        return running
    return sample_config_path()


def env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """Nested overrides from ``LLM_BROKER_A__B=value`` variables."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_OVERRIDES:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(raw) if raw != "" else None
    return tree


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_config(data: dict[str, Any], environ: dict[str, str] | None = None) -> BrokerConfig:
    merged = deep_merge(data, env_overrides(dict(os.environ) if environ is None else environ))
    try:
        return BrokerConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from exc


def load_config(path: str | Path | None = None) -> BrokerConfig:
    source = resolve_config_path(path)
    try:
        data = yaml.safe_load(source.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {source}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    return parse_config(data)


@lru_cache(maxsize=1)
def current_config() -> BrokerConfig:
    """The process-wide configuration, loaded once (entry points call this, libraries take it)."""
    return load_config()


def redis_url(config: BrokerConfig) -> str:
    return config.redis.url or f"redis://127.0.0.1:{config.redis.port}/0"
