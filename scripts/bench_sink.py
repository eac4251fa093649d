"""Benchmark the usage sink: rows per second from the Redis usage stream into the Parquet
ledger (read through the consumer group, parse, partition, write durably, acknowledge).

The stream is filled first, exactly as finish.lua appends (``job_id`` and the record
JSON per entry), for 20 teams, 30 features and 6 models; then the sink drains it.

* ``inprocess``: ``UsageSink.drain_once`` in a loop in this process (the sink's own cost).
* ``process``: the real ``llm-broker sink`` command, timed from its first written file
  until the stream is empty (process start-up excluded, crash recovery path included).

    python -m scripts.bench_sink [--rows 300000] [--runs 3] [--batch-size 10000]

Prints one JSON object on its last line (medians over runs).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
import yaml

from broker import keys
from broker.ledger.reports import totals
from broker.ledger.storage import LedgerStorage
from broker.settings import sample_config_path
from schemas.config import LedgerConfig
from schemas.usage import UsageRecord
from scripts.benchjobs import machine
from scripts.embedded_redis import EmbeddedRedis, free_port
from workers.usage_sink import GROUP, UsageSink


def fill(client: redis.Redis, rows: int) -> None:
    now = time.time()
    pipe = client.pipeline(transaction=False)
    for i in range(rows):
        record = UsageRecord(
            job_id=f"job_{i:012x}{i * 7919 % 65536:04x}",
            attempt=1,
            team=f"team{i % 20}",
            user=f"user{i % 50}",
            key_id=f"key_{i % 40}",
            feature=f"feature{(i // 7) % 30}",
            provider="openai" if i % 3 else "anthropic",
            model=f"model{i % 6}",
            state="failed" if i % 50 == 0 else "succeeded",
            input_tokens=100 + i % 900,
            output_tokens=20 + i % 300,
            cached_tokens=i % 64,
            cost_usd=round((100 + i % 900) * 2.5e-6 + (20 + i % 300) * 1e-5, 10),
            latency_ms=float(200 + i * 7919 % 5000),
            routing_saved_usd=0.0001 if i % 4 == 0 else 0.0,
            cache_hit=i % 10 == 0,
            tier="simple" if i % 4 == 0 else None,
            created_at=now - 2,
            finished_at=now,
        )
        pipe.xadd(keys.USAGE_STREAM, {"job_id": record.job_id, "record": record.model_dump_json()})
        if len(pipe) >= 2000:
            pipe.execute()
    pipe.execute()


def run_inprocess(client: redis.Redis, ledger: Path, batch_size: int) -> float:
    sink = UsageSink(client, LedgerStorage(ledger), "bench", LedgerConfig(batch_size=batch_size))
    started = time.perf_counter()
    while sink.drain_once(block_ms=1):
        pass
    return time.perf_counter() - started


def run_process(server: EmbeddedRedis, home: Path, ledger: Path, batch_size: int) -> float:
    config = yaml.safe_load(sample_config_path().read_text())
    config["redis"] = {"url": server.url}
    config["ledger"] = {"location": str(ledger), "batch_size": batch_size, "compact_interval_s": 3600}
    path = home / "bench-sink.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_BROKER_")}
    env.update(LLM_BROKER_CONFIG=str(path), LLM_BROKER_HOME=str(home))
    client = redis.Redis.from_url(server.url)
    with open(home / "sink.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "broker.cli.main", "sink"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        while not any(ledger.rglob("b_*.parquet")):
            if process.poll() is not None:
                raise RuntimeError((home / "sink.log").read_text()[-2000:])
            time.sleep(0.002)
        started = time.perf_counter()
        while client.xlen(keys.USAGE_STREAM):
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    return elapsed


def one_run(mode: str, rows: int, batch_size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sink-") as tmp:
        home = Path(tmp)
        server = EmbeddedRedis(free_port(), home / "redis").start(appendfsync="everysec")
        try:
            client = redis.Redis.from_url(server.url)
            fill(client, rows)
            client.xgroup_create(keys.USAGE_STREAM, GROUP, id="0")
            ledger = home / "ledger"
            if mode == "inprocess":
                seconds = run_inprocess(client, ledger, batch_size)
                counted = rows
            else:
                seconds = run_process(server, home, ledger, batch_size)
                counted = rows - batch_size  # the first batch was written before the clock started
            written = totals(LedgerStorage(ledger))["jobs"]
            if written != rows:
                raise RuntimeError(f"ledger holds {written} rows, expected {rows}")
            return {"seconds": round(seconds, 3), "rows_per_s": round(counted / seconds)}
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--modes", default="inprocess,process")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"rows": args.rows, "batch_size": args.batch_size, "runs": args.runs}
    for mode in args.modes.split(","):
        runs = [one_run(mode, args.rows, args.batch_size) for _ in range(args.runs)]
        for run in runs:
            print(json.dumps({"mode": mode, **run}), flush=True)
        results[mode] = {
            "rows_per_s_median": statistics.median(r["rows_per_s"] for r in runs),
            "rows_per_s_all": [r["rows_per_s"] for r in runs],
        }
    results["target_rows_per_s"] = 20_000
    results["machine"] = {**machine(), "loadavg_at_end": os.getloadavg()}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
