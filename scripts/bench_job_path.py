"""Benchmark the job path against a direct SDK call to the same simulated provider.

1. Added latency: jobs one at a time with a zero-latency provider; each broker job is
   paired with a direct ``openai`` SDK call, and the added latency is broker - direct.
2. Throughput: the provider answers after 1 s; 1,000 jobs in flight through the broker
   vs 1,000 direct SDK calls in flight (async client on its aiohttp transport).
3. Calls one worker process holds: 1,200 jobs at once against a provider answering after
   10 s; the simulator's count of requests in flight, sampled, at its peak.

    python -m scripts.bench_job_path [--runs 3] [--latency-jobs 500] [--throughput-jobs 5000]

Prints one JSON object on its last line (medians over runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai

from scripts.benchjobs import bench_stack, machine, run_concurrently, submit_and_wait, summary_ms, team_key
from scripts.stack import Stack

MODEL = "gpt-4o-mini"


def body(i: int, latency_s: float | None = None) -> dict[str, Any]:
    directive = f"#sim(latency={latency_s}) " if latency_s else ""
    return {"model": MODEL, "messages": [{"role": "user", "content": f"{directive}benchmark prompt {i}"}]}


def direct_client(stack: Stack) -> openai.AsyncOpenAI:
    assert stack.config is not None
    return openai.AsyncOpenAI(
        api_key="sk-bench",
        base_url=stack.config.providers["openai"].base_url,
        max_retries=0,
        timeout=120,
        http_client=openai.DefaultAioHttpClient(),
    )


async def direct_call(client: openai.AsyncOpenAI, i: int, latency_s: float | None = None) -> float:
    started = time.perf_counter()
    await client.chat.completions.create(model=MODEL, **{k: v for k, v in body(i, latency_s).items() if k != "model"})
    return (time.perf_counter() - started) * 1000


async def added_latency(stack: Stack, key: str, jobs: int) -> dict[str, Any]:
    client = direct_client(stack)
    async with aiohttp.ClientSession() as session:
        for i in range(50):  # warm both paths: connections, worker executor, caches
            await submit_and_wait(session, stack.api_url, key, body(-i - 1))
            await direct_call(client, -i - 1)
        broker_ms, direct_ms, added = [], [], []
        for i in range(jobs):
            d = await direct_call(client, i)
            b = await submit_and_wait(session, stack.api_url, key, body(i))
            direct_ms.append(d)
            broker_ms.append(b)
            added.append(b - d)
    await client.close()
    return {"broker_ms": summary_ms(broker_ms), "direct_ms": summary_ms(direct_ms), "added_ms": summary_ms(added)}


async def throughput(stack: Stack, key: str, jobs: int, in_flight: int, latency_s: float) -> dict[str, Any]:
    client = direct_client(stack)
    direct_wall, _ = await run_concurrently(jobs, in_flight, lambda i: direct_call(client, i, latency_s))
    await client.close()
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        broker_wall, latencies = await run_concurrently(
            jobs, in_flight, lambda i: submit_and_wait(session, stack.api_url, key, body(10**6 + i, latency_s))
        )
    return {
        "direct_calls_per_s": round(jobs / direct_wall, 1),
        "broker_jobs_per_s": round(jobs / broker_wall, 1),
        "broker_job_ms": summary_ms(latencies),
        "ratio_broker_to_direct": round(direct_wall / broker_wall, 3),
    }


async def peak_in_flight(stack: Stack, key: str, jobs: int, latency_s: float) -> int:
    """Submit ``jobs`` long calls at once; the most the simulator saw in flight at one time."""
    peak = 0
    connector = aiohttp.TCPConnector(limit=jobs)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:

        async def sample() -> None:
            nonlocal peak
            while True:
                async with session.get(f"{stack.simulator_url}/_sim/stats") as response:
                    peak = max(peak, (await response.json())["in_flight"])
                await asyncio.sleep(0.2)

        sampler = asyncio.create_task(sample())
        await asyncio.gather(
            *(submit_and_wait(session, stack.api_url, key, body(2 * 10**6 + i, latency_s)) for i in range(jobs))
        )
        sampler.cancel()
    return peak


def one_run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lb-bench-") as tmp:
        # the in-flight phase's provider answers after 10 s: past the default 3 s first-byte deadline
        slow_ok = {"models": {MODEL: {"ttfb_timeout_s": 30}}}
        stack = bench_stack(Path(args.home or tmp), workers_per_provider=args.workers, overrides=slow_ok)
        try:
            key = team_key(stack, "search")
            latency = asyncio.run(added_latency(stack, key, args.latency_jobs))
            rate = asyncio.run(throughput(stack, key, args.throughput_jobs, args.in_flight, args.provider_latency))
            held = asyncio.run(peak_in_flight(stack, key, args.hold_jobs, 10.0))
        finally:
            stack.stop()
    return {"latency": latency, "throughput": rate, "worker_peak_in_flight": held}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-jobs", type=int, default=500)
    parser.add_argument("--throughput-jobs", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--provider-latency", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=1, help="worker processes for the provider queue")
    parser.add_argument("--hold-jobs", type=int, default=1200, help="jobs submitted at once for the in-flight peak")
    parser.add_argument("--home", help="keep the broker's logs and data here (default: a temporary folder)")
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        result = one_run(args)
        runs.append(result)
        print(f"run {n + 1}: {json.dumps(result)}", flush=True)
    med = statistics.median
    print(
        json.dumps(
            {
                "benchmark": "job_path",
                "runs": args.runs,
                "added_latency_ms_p50": round(med(r["latency"]["added_ms"]["p50"] for r in runs), 3),
                "added_latency_ms_p99": round(med(r["latency"]["added_ms"]["p99"] for r in runs), 3),
                "broker_latency_ms_p50": round(med(r["latency"]["broker_ms"]["p50"] for r in runs), 3),
                "direct_latency_ms_p50": round(med(r["latency"]["direct_ms"]["p50"] for r in runs), 3),
                "broker_jobs_per_s": round(med(r["throughput"]["broker_jobs_per_s"] for r in runs), 1),
                "direct_calls_per_s": round(med(r["throughput"]["direct_calls_per_s"] for r in runs), 1),
                "ratio_broker_to_direct": round(med(r["throughput"]["ratio_broker_to_direct"] for r in runs), 3),
                "worker_peak_in_flight": med(r["worker_peak_in_flight"] for r in runs),
                "provider_latency_s": args.provider_latency,
                "in_flight": args.in_flight,
                "worker_processes": args.workers,
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
