"""Benchmark admission: decisions per second against a real Redis, and the admitted-token
overshoot under concurrent scheduler processes.

1. Decisions/s: jobs queued for two teams are admitted by ``TokenAdmission`` (one Lua call
   per batch of up to 64 jobs, every job checked against team, key and model buckets) —
   the raw decision rate — and by the scheduler's full round (peek, fair order, admit,
   Celery dispatch) — the rate a scheduler process sustains.
2. Overshoot: N scheduler processes race over two teams' queues, fed faster than their
   limits, for ``--duration`` seconds, with no workers (nothing is refunded). The peak of
   tokens admitted in any sliding 60 s window, against the limit plus burst, in percent.

    python -m scripts.bench_admission [--runs 3] [--jobs 20000] [--schedulers 4] [--duration 90]

Prints one JSON object on its last line (medians over runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from redis.asyncio import Redis

from broker import keys
from broker.auth import Principal
from broker.jobstore.lifecycle import JobLifecycle
from broker.jobstore.store import JobStore
from broker.scheduler.admission import TokenAdmission
from broker.scheduler.dispatch import make_sender
from broker.scheduler.loop import Scheduler
from broker.settings import parse_config, sample_config_path
from broker.submit import prepare_job
from schemas.chat import JobRequest
from scripts.benchjobs import machine
from scripts.embedded_redis import EmbeddedRedis, free_port

TEAMS = ("search", "support")
LIMITS = {"input_tpm": 60_000, "input_burst": 20_000, "output_tpm": 120_000, "output_burst": 30_000}


def bench_config(redis_url: str, limited: bool) -> dict[str, Any]:
    data = yaml.safe_load(sample_config_path().read_text())
    data["redis"] = {"url": redis_url}
    data["scheduler"] = {"claim_timeout_s": 3600, "reap_interval_s": 1.0}
    generous = {"input_tpm": 10**9, "output_tpm": 10**9, "rpm": 10**9}
    for team in TEAMS:
        data["teams"][team] = {"limits": LIMITS if limited else generous, "key_limits": generous}
    data["models"]["gpt-4o-mini"]["limits"] = generous
    return data


async def enqueue(redis: Redis, config: Any, count: int) -> None:
    store = JobStore(redis)
    request = JobRequest.model_validate(
        {"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "admission bench"}]}
    )
    for i in range(count):
        team = TEAMS[i % len(TEAMS)]
        await store.create(prepare_job(request, Principal(team, "bench", f"key_{team}"), config, time.time()))


async def decisions_per_second(redis_url: str, jobs: int) -> dict[str, float]:
    config = parse_config(bench_config(redis_url, limited=False), {})
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    await enqueue(redis, config, jobs)
    life = JobLifecycle(redis)
    admission = TokenAdmission(life, config)
    decided, started = 0, time.perf_counter()
    lua_seconds = 0.0
    while True:
        progressed = False
        for team in TEAMS:
            batch = await life.peek(team, 64)
            if not batch:
                continue
            t0 = time.perf_counter()
            outcome = await admission.admit(team, batch)
            lua_seconds += time.perf_counter() - t0
            decided += len(outcome.admitted)
            progressed = True
        if not progressed:
            break
    raw = decided / lua_seconds
    with_peek = decided / (time.perf_counter() - started)

    await redis.flushdb()
    await enqueue(redis, config, jobs)
    scheduler = Scheduler(redis, config, admission, make_sender(redis_url), life)
    started, dispatched = time.perf_counter(), 0
    while dispatched < jobs:
        count, _ = await scheduler.admit_round()
        dispatched += count
    full = dispatched / (time.perf_counter() - started)
    await redis.aclose()
    return {
        "admit_lua_decisions_per_s": round(raw, 1),
        "admit_with_peek_per_s": round(with_peek, 1),
        "scheduler_round_jobs_per_s": round(full, 1),
    }


def max_window(events: list[tuple[float, float]], window: float = 60.0) -> float:
    events.sort()
    best, j, total = 0.0, 0, 0.0
    for i in range(len(events)):  # two pointers: window [events[i].t, events[i].t + window]
        while j < len(events) and events[j][0] <= events[i][0] + window:
            total += events[j][1]
            j += 1
        best = max(best, total)
        total -= events[i][1]
    return best


async def feed(redis_url: str, config: Any, duration: float, rate_per_s: float) -> None:
    redis = Redis.from_url(redis_url)
    store = JobStore(redis)
    request = JobRequest.model_validate(
        {"model": "gpt-4o-mini", "max_tokens": 100, "messages": [{"role": "user", "content": "overshoot bench"}]}
    )
    started, i = time.monotonic(), 0
    while time.monotonic() - started < duration:
        for team in TEAMS:
            await store.create(prepare_job(request, Principal(team, "bench", f"key_{team}"), config, time.time()))
        i += 1
        await asyncio.sleep(max(0.0, started + i / rate_per_s - time.monotonic()))
    await redis.aclose()


async def admitted_events(redis_url: str) -> dict[str, dict[str, list[tuple[float, float]]]]:
    redis = Redis.from_url(redis_url)
    out: dict[str, dict[str, list[tuple[float, float]]]] = {t: {"in": [], "out": []} for t in TEAMS}
    async for key in redis.scan_iter(match=keys.job("*")):
        fields = {k.decode(): v.decode() for k, v in (await redis.hgetall(key)).items()}
        if fields.get("state") != "admitted":
            continue
        for entry in json.loads(fields["reservation"]):
            if entry["k"].startswith(keys.bucket(f"team:{fields['team']}", "")):
                out[fields["team"]][entry["a"]].append((float(fields["admitted_at"]), float(entry["n"])))
    await redis.aclose()
    return out


def overshoot(redis_url: str, home: Path, schedulers: int, duration: float) -> dict[str, Any]:
    data = bench_config(redis_url, limited=True)
    config_path = home / "config.yaml"
    config_path.write_text(yaml.safe_dump(data))
    config = parse_config(data, {})
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_BROKER_")}
    env.update({"LLM_BROKER_CONFIG": str(config_path), "LLM_BROKER_HOME": str(home)})
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "broker.cli.main", "scheduler"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(schedulers)
    ]
    try:
        # feed at about 2x the input limit (each job ~10 input tokens, 100 output reserved)
        asyncio.run(feed(redis_url, config, duration, rate_per_s=2 * LIMITS["output_tpm"] / 60 / 100))
        time.sleep(1.0)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
    events = asyncio.run(admitted_events(redis_url))
    result: dict[str, Any] = {}
    worst = 0.0
    for team, axes in events.items():
        for axis, tpm, burst in (("in", "input_tpm", "input_burst"), ("out", "output_tpm", "output_burst")):
            bound = LIMITS[tpm] + LIMITS[burst]
            peak = max_window(axes[axis])
            pct = max(0.0, (peak - bound) / bound * 100)
            worst = max(worst, pct)
            result[f"{team}_{axis}_peak_over_bound"] = f"{peak:.0f}/{bound}"
    result["overshoot_pct"] = round(worst, 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--schedulers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=90.0, help="seconds of feeding for the overshoot run")
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="lb-bench-admission-") as tmp:
            redis = EmbeddedRedis(free_port(), Path(tmp) / "redis").start()
            try:
                result = asyncio.run(decisions_per_second(redis.url, args.jobs))
                asyncio.run(Redis.from_url(redis.url).flushdb())
                result.update(overshoot(redis.url, Path(tmp), args.schedulers, args.duration))
            finally:
                redis.stop()
        runs.append(result)
        print(f"run {n + 1}: {json.dumps(result)}", flush=True)
    med = statistics.median
    print(
        json.dumps(
            {
                "benchmark": "admission",
                "runs": args.runs,
                "admit_lua_decisions_per_s": med(r["admit_lua_decisions_per_s"] for r in runs),
                "admit_with_peek_per_s": med(r["admit_with_peek_per_s"] for r in runs),
                "scheduler_round_jobs_per_s": med(r["scheduler_round_jobs_per_s"] for r in runs),
                "overshoot_pct_max": max(r["overshoot_pct"] for r in runs),
                "schedulers": args.schedulers,
                "duration_s": args.duration,
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
