"""Run the whole broker on one machine as child processes: what `up`, the demo, the tests
and the benchmarks share.

Each component is a real process started with the real CLI (``python -m broker.cli.main
<command>``), configured only through the effective config file this module writes and
``LLM_BROKER_HOME``, so what runs here is what runs under compose.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from broker.settings import CONFIG_ENV, ENV_PREFIX, effective_config_path
from schemas.config import BrokerConfig
from scripts.embedded_redis import EmbeddedRedis, free_port


def simulated_providers(config: BrokerConfig, environ: dict[str, str]) -> list[str]:
    """Providers the simulator stands in for: forced, or on auto with no key in the environment."""
    return [
        name
        for name, provider in config.providers.items()
        if provider.simulate == "always" or (provider.simulate == "auto" and not environ.get(provider.api_key_env))
    ]


def effective_config(
    base: dict[str, Any], redis_url: str, simulator_url: str | None, simulated: list[str], api_port: int
) -> dict[str, Any]:
    """The config every child reads: our Redis, our API port, simulated base URLs."""
    data = yaml.safe_load(yaml.safe_dump(base))
    data.setdefault("redis", {})["url"] = redis_url
    data.setdefault("api", {})["port"] = api_port
    for name in simulated:
        kind = data["providers"][name]["kind"]
        suffix = f"/{name}/v1" if kind == "openai" else f"/{name}"
        data["providers"][name]["base_url"] = f"{simulator_url}{suffix}"
    return data


@dataclass
class Stack:
    """A broker on this machine. ``start()`` everything or compose the pieces a test needs."""

    base_config: dict[str, Any]
    home: Path
    redis_port: int | None = None
    api_port: int | None = None
    simulator_port: int | None = None
    simulator_config: dict[str, Any] | None = None
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    redis: EmbeddedRedis | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    config: BrokerConfig | None = None
    simulator_url: str | None = None

    @property
    def config_path(self) -> Path:
        return effective_config_path(self.home)

    @property
    def api_url(self) -> str:
        assert self.config is not None
        return f"http://{self.config.api.host}:{self.config.api.port}"

    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in self.environ.items() if not k.startswith(ENV_PREFIX)}
        env[CONFIG_ENV] = str(self.config_path)
        env[f"{ENV_PREFIX}HOME"] = str(self.home)
        env["FLOWER_UNAUTHENTICATED_API"] = "true"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def prepare(self) -> Stack:
        """Start Redis (unless the config names one) and the simulator; write the effective config."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        base = BrokerConfig.model_validate(self.base_config)
        if base.redis.url:
            redis_url = base.redis.url
        else:
            self.redis = EmbeddedRedis(self.redis_port or base.redis.port, self.home / "redis").start()
            redis_url = self.redis.url
        simulated = simulated_providers(base, self.environ)
        if simulated:
            self.start_simulator()
        api_port = self.api_port or base.api.port
        data = effective_config(self.base_config, redis_url, self.simulator_url, simulated, api_port)
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
        self.config = BrokerConfig.model_validate(data)
        return self

    def start_simulator(self) -> None:
        port = self.simulator_port or free_port()
        latency_s = BrokerConfig.model_validate(self.base_config).simulator.latency_s
        sim_config = self.simulator_config or {"default": {"latency": latency_s}}
        sim_path = self.home / "run" / "simulator.yaml"
        sim_path.parent.mkdir(parents=True, exist_ok=True)
        sim_path.write_text(yaml.safe_dump(sim_config))
        self.spawn("simulator", ["simulate", "--port", str(port), "--config", str(sim_path)])
        self.simulator_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.simulator_url}/_sim/health", self.processes["simulator"], self.log_path("simulator"))

    def log_path(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.log_path(name), "ab")  # noqa: SIM115 - owned by the child for its lifetime
        process = subprocess.Popen(
            [sys.executable, "-m", "broker.cli.main", *args],
            env=self.child_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def start_api(self) -> None:
        self.spawn("api", ["api"])
        wait_http(f"{self.api_url}/healthz", self.processes["api"], self.log_path("api"))

    def start_scheduler(self, name: str = "scheduler") -> None:
        self.spawn(name, ["scheduler"])

    def start_worker(self, provider: str, name: str | None = None) -> subprocess.Popen[bytes]:
        return self.spawn(name or f"worker-{provider}", ["worker", "--provider", provider])

    def start_cache_worker(self, name: str = "worker-cache") -> subprocess.Popen[bytes]:
        """The cache worker (one, with embedded Chroma): lookups before admission, storing answers."""
        return self.spawn(name, ["cache-worker"])

    def start_sink(self) -> None:
        self.spawn("sink", ["sink"])

    def start_monitor(self) -> None:
        self.spawn("monitor", ["monitor"])

    def start_webhook_worker(self, name: str = "webhooks") -> None:
        self.spawn(name, ["webhook-worker"])

    def start_flower(self, port: int) -> None:
        self.spawn("flower", ["flower", "--port", str(port)])

    def start(self, flower_port: int | None = None) -> Stack:
        self.prepare()
        assert self.config is not None
        self.start_api()
        self.start_scheduler()
        for provider in self.config.providers:
            self.start_worker(provider)
        if self.config.cache.enabled:
            self.start_cache_worker()
        self.start_sink()
        self.start_monitor()
        self.start_webhook_worker()
        if flower_port:
            self.start_flower(flower_port)
        return self

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def kill_process(self, name: str) -> None:
        """SIGKILL, as a crash would: no cleanup, no acknowledgements."""
        self.stop_process(name, signal.SIGKILL)

    def stop(self) -> None:
        # producers first, then workers (which drain their calls), the simulator last
        names = list(self.processes)
        prefixes = ("api", "scheduler", "worker", "sink", "monitor", "webhooks", "flower")
        order = [n for prefix in prefixes for n in names if n.startswith(prefix)]
        for name in [*order, *names]:
            self.stop_process(name)
        if self.redis is not None:
            self.redis.stop()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
