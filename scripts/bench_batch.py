"""Benchmark the Batch API path against direct calls to the same simulated provider.

In one run, with the provider answering after ``--provider-latency`` seconds:
1. direct: ``--lines`` chat completions sent straight to the simulator with the official
   async ``openai`` SDK, ``--in-flight`` at a time;
2. batch: the same requests as one JSONL file through the broker with the official SDK
   (``files.create``, ``batches.create``, polling ``batches.retrieve``, ``files.content``).

    python -m scripts.bench_batch [--lines 10000] [--in-flight 1000] [--provider-latency 1.0]

Prints one JSON object on its last line: wall times, jobs/s, and where the batch's time went.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import openai

from scripts.benchjobs import bench_stack, machine, run_concurrently, team_key
from scripts.stack import Stack

MODEL = "gpt-4o-mini"


def request(i: int, latency_s: float) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": f"#sim(latency={latency_s}) batch benchmark line {i}"}],
    }


async def direct(stack: Stack, lines: int, in_flight: int, latency_s: float) -> dict[str, Any]:
    assert stack.config is not None
    client = openai.AsyncOpenAI(
        api_key="sk-bench",
        base_url=stack.config.providers["openai"].base_url,
        max_retries=0,
        timeout=300,
        http_client=openai.DefaultAioHttpClient(),
    )

    async def one(i: int) -> float:
        started = time.perf_counter()
        await client.chat.completions.create(**request(i, latency_s))
        return time.perf_counter() - started

    wall, _ = await run_concurrently(lines, in_flight, one)
    await client.close()
    return {"wall_s": round(wall, 2), "calls_per_s": round(lines / wall, 1)}


def through_batch(stack: Stack, key: str, lines: int, latency_s: float) -> dict[str, Any]:
    client = openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key=key, max_retries=0, timeout=600)
    body = "\n".join(
        json.dumps(
            {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": request(i, latency_s)}
        )
        for i in range(lines)
    ).encode()
    started = time.perf_counter()
    uploaded = client.files.create(file=("bench.jsonl", body), purpose="batch")
    t_upload = time.perf_counter()
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    t_created = time.perf_counter()
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        time.sleep(0.25)
        batch = client.batches.retrieve(batch.id)
    t_done = time.perf_counter()
    output = client.files.content(batch.output_file_id).text.splitlines() if batch.output_file_id else []
    t_fetched = time.perf_counter()
    wall = t_done - started
    assert batch.request_counts is not None
    return {
        "status": batch.status,
        "completed": batch.request_counts.completed,
        "failed": batch.request_counts.failed,
        "output_lines": len(output),
        "wall_s": round(wall, 2),
        "jobs_per_s": round(lines / wall, 1),
        "upload_s": round(t_upload - started, 2),
        "create_s": round(t_created - t_upload, 2),  # validate every line, create every job
        "run_s": round(t_done - t_created, 2),  # admission, dispatch, provider calls, finalizing
        "finalize_s": (batch.completed_at or 0) - (batch.finalizing_at or 0),
        "download_s": round(t_fetched - t_done, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--provider-latency", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=1, help="worker processes for the provider queue")
    parser.add_argument("--home", help="keep the broker's logs and data here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lb-bench-batch-") as tmp:
        stack = bench_stack(Path(args.home or tmp), workers_per_provider=args.workers)
        try:
            key = team_key(stack, "search")
            direct_result = asyncio.run(direct(stack, args.lines, args.in_flight, args.provider_latency))
            print(f"direct: {json.dumps(direct_result)}", flush=True)
            batch_result = through_batch(stack, key, args.lines, args.provider_latency)
            print(f"batch: {json.dumps(batch_result)}", flush=True)
        finally:
            stack.stop()
    print(
        json.dumps(
            {
                "benchmark": "batch",
                "lines": args.lines,
                "provider_latency_s": args.provider_latency,
                "direct_in_flight": args.in_flight,
                "worker_processes": args.workers,
                "direct_wall_s": direct_result["wall_s"],
                "direct_calls_per_s": direct_result["calls_per_s"],
                "batch_wall_s": batch_result["wall_s"],
                "batch_jobs_per_s": batch_result["jobs_per_s"],
                "ratio_batch_to_direct": round(direct_result["wall_s"] / batch_result["wall_s"], 3),
                "batch": batch_result,
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
