"""Shared pieces of the benchmarks: a started broker, concurrent clients, percentiles, machine facts."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from broker.auth import create_api_key
from broker.redis_clients import sync_client
from broker.settings import deep_merge, sample_config_path
from scripts.embedded_redis import free_port
from scripts.stack import Stack


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 3),
        "p90": round(percentile(values, 90), 3),
        "p99": round(percentile(values, 99), 3),
        "mean": round(statistics.fmean(values), 3) if values else float("nan"),
    }


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def bench_stack(
    home: Path,
    workers_per_provider: int = 1,
    providers: tuple[str, ...] = ("openai",),
    overrides: dict[str, Any] | None = None,
) -> Stack:
    config = yaml.safe_load(sample_config_path().read_text())
    config["simulator"] = {"latency_s": 0.0}
    for provider in config["providers"].values():
        provider["simulate"] = "always"
    config = deep_merge(config, overrides or {})
    stack = Stack(config, home, redis_port=free_port(), api_port=free_port())
    stack.prepare()
    stack.start_api()
    stack.start_scheduler()
    for provider in providers:
        for n in range(workers_per_provider):
            stack.start_worker(provider, name=f"worker-{provider}-{n}")
    return stack


def team_key(stack: Stack, team: str) -> str:
    assert stack.config is not None
    return create_api_key(sync_client(stack.config), team, "bench")[0]


async def run_concurrently(
    total: int, in_flight: int, one: Callable[[int], Awaitable[float]]
) -> tuple[float, list[float]]:
    """Run ``one(i)`` for i in range(total) keeping ``in_flight`` running; returns (wall s, latencies)."""
    counter = iter(range(total))
    latencies: list[float] = []

    async def lane() -> None:
        for i in counter:
            latencies.append(await one(i))

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(in_flight)))
    return time.perf_counter() - started, latencies


async def submit_and_wait(session: aiohttp.ClientSession, api_url: str, key: str, body: dict[str, Any]) -> float:
    """One job through the broker, answered when final (``Prefer: wait``); returns ms."""
    started = time.perf_counter()
    async with session.post(
        f"{api_url}/v1/jobs", json=body, headers={"Authorization": f"Bearer {key}", "Prefer": "wait=120"}
    ) as response:
        job = await response.json()
    if job.get("state") != "succeeded":
        raise RuntimeError(f"job did not succeed: {job}")
    return (time.perf_counter() - started) * 1000
