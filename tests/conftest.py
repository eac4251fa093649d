"""Shared fixtures: a real broker on this machine (embedded Redis on a free port, the
simulated providers over HTTP, real API, scheduler and Celery worker processes)."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from hypothesis import settings

from broker.auth import create_api_key
from broker.settings import sample_config_path
from scripts.embedded_redis import EmbeddedRedis, free_port
from scripts.stack import Stack

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session", autouse=True)
def fresh_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The embedder's exported ONNX graph is made in this session's own cache folder (and
    inherited by the processes the tests start), so no test uses a file an earlier run left."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


# No per-example time limit: a deadline is a timed assertion, and CI machines are shared.
settings.register_profile("broker", deadline=None)
settings.load_profile("broker")


def broker_config(**overrides: Any) -> dict[str, Any]:
    """The sample config with two test teams and fast timers, plus ``overrides`` merged in."""
    base = yaml.safe_load(sample_config_path().read_text())
    base["teams"] = {"alpha": {"weight": 1}, "beta": {"weight": 1}}
    base["scheduler"] = {"reap_interval_s": 0.2, "claim_timeout_s": 30}
    base["worker"] = {"lease_ttl_s": 2.0, "concurrency": 4, "max_in_flight": 1000}
    base["simulator"] = {"latency_s": 0.0}
    base["cache"] = {"enabled": False}  # tests of the cache turn it on and start a cache worker
    for provider in base["providers"].values():
        provider["simulate"] = "always"
    return _merge(base, overrides)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class BrokerUnderTest:
    """A started stack plus conveniences: keys per team, a Redis client, the API URL."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        assert stack.config is not None
        self.config = stack.config
        self.redis = redis.Redis.from_url(stack.config.redis.url or "")
        self.api_url = stack.api_url

    def key(self, team: str, user: str = "tester", admin: bool = False) -> str:
        return create_api_key(self.redis, team, user, admin)[0]

    def headers(self, team: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(team)}"}

    def redis_keys(self) -> dict[bytes, bool]:
        """Every Redis key, and whether it has a TTL (such a key may expire on its own)."""
        return {key: self.redis.pttl(key) != -1 for key in self.redis.scan_iter(count=1000)}

    def assert_no_state_change(self, before: dict[bytes, bool]) -> None:
        """No key added since ``before`` (from ``redis_keys``), and none removed but keys that
        could expire meanwhile: a key count alone fails whenever an earlier test's key with a
        TTL expires during the request."""
        after = set(self.redis.scan_iter(count=1000))
        added = sorted(after - before.keys())
        assert not added, f"keys added: {added}"
        removed = sorted(key for key in before.keys() - after if not before[key])
        assert not removed, f"keys removed: {removed}"


def start_broker(
    tmp_path: Path,
    config: dict[str, Any] | None = None,
    simulator: dict[str, Any] | None = None,
    providers: list[str] | None = None,
    sink: bool = False,
    monitor: bool = False,
    cache_worker: bool = False,
) -> Stack:
    stack = Stack(
        config or broker_config(),
        tmp_path / "home",
        redis_port=free_port(),
        api_port=free_port(),
        simulator_config=simulator,
    )
    try:
        stack.prepare()
        assert stack.config is not None
        stack.start_api()
        stack.start_scheduler()
        for provider in providers or list(stack.config.providers):
            stack.start_worker(provider)
        if sink:
            stack.start_sink()
        if monitor:
            stack.start_monitor()
        if cache_worker:
            stack.start_cache_worker()
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    """One broker shared by a test module: sample providers, all simulated, zero latency."""
    stack = start_broker(tmp_path_factory.mktemp("broker"))
    try:
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(free_port(), tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
