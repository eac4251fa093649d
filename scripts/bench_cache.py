"""Benchmark the answer cache: hit rate on a repetitive support stream, and lookup latency.

Runs the cache worker's own lookup (``CacheService.find``: Redis GET for the exact layer,
then all-MiniLM-L6-v2 on the CPU, a Chroma query of the scope's collection, the near-miss
guard and the entry's GET) in this process, on an embedded Redis and an embedded Chroma
in a temporary folder. No provider, API or Celery hop is timed: this is the cache alone.

1. **Stream**: a generated support-desk stream (``scripts/cache_stream.py``) where a share
   of prompts re-ask an earlier question in new words (another hand-written phrasing of it).
   Each prompt is looked up; a miss is "answered" and stored, as the provider worker and
   the cache worker would. A hit is false when the entry served answers another question.
   The same stream is run again (in another team's scope) with re-asks that keep the first
   phrasing and change only its surface (greeting, thanks, case, a typo), for comparison,
   and again with re-asks in held-out phrasings that the cache's lexicon was not tuned on:
   ``cache_stream.HELDOUT`` (whose misses were later studied) and ``HELDOUT2`` (written
   before that, never tuned on): the figures to trust for phrasings nobody has seen.
2. **Latency**: prompts about random questions in random phrasings (``cache_stream.sample``),
   looked up at a fixed rate (open loop: each lookup is timed from its scheduled start)
   against the cache the first phase filled; nothing is stored in this phase.

    .venv/bin/python -m scripts.bench_cache [--stream 1000] [--reask 0.3] [--rate 50] [--lookups 1500]

The last line printed is one JSON object with the figures and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from broker.cache.canonical import cache_key
from broker.settings import load_config, sample_config_path
from schemas.chat import JobRequest
from schemas.config import BrokerConfig
from scripts.cache_stream import StreamItem, generate, sample
from scripts.embedded_redis import EmbeddedRedis, free_port
from workers.cache.build import freeze_loaded_heap
from workers.cache.embedder import MiniLMEmbedder
from workers.cache.service import CacheService, Lookup
from workers.cache.vectors import VectorIndex, chroma_client

MODEL = "gpt-4o-mini"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def request(text: str) -> JobRequest:
    return JobRequest.model_validate(
        {"model": MODEL, "temperature": 0, "messages": [{"role": "user", "content": text}]}
    )


class Bench:
    """One team's cache (its own scope): a stream fills it, lookups read it."""

    def __init__(self, service: CacheService, config: BrokerConfig, team: str) -> None:
        self.service = service
        self.config = config
        self.team = team
        self.question_of: dict[str, str] = {}  # entry id -> the question its answer answers

    def lookup(self, item: StreamItem) -> tuple[Lookup, float, Any]:
        key = cache_key(request(item.text), self.team, self.config)
        started = time.perf_counter()
        found = self.service.find(key, None, self.config.cache.threshold, self.config.cache.same_words_threshold)
        return found, time.perf_counter() - started, key

    def judge(self, item: StreamItem, lookup: Lookup) -> bool | None:
        """True for a right hit, False for a false hit, None for a miss."""
        if lookup.found is None:
            return None
        return self.question_of.get(lookup.found.entry.id) == item.question


def run_stream(bench: Bench, items: list[StreamItem]) -> dict[str, Any]:
    hits = false_hits = reask_hits = exact = 0
    wrong: list[dict[str, object]] = []
    seconds: list[float] = []
    for number, item in enumerate(items):
        lookup, took, key = bench.lookup(item)
        seconds.append(took)
        verdict = bench.judge(item, lookup)
        if verdict is None:
            bench.service.store(key, f"answer to {item.question}", MODEL, 20, 40, f"job_{number}")
            bench.question_of[key.entry_id] = item.question
            continue
        hits += 1
        exact += lookup.found is not None and lookup.found.layer == "exact"
        if verdict:
            reask_hits += item.reask
        else:
            false_hits += 1
            assert lookup.found is not None
            served = lookup.found.entry
            wrong.append({"asked": item.text, "cached": served.query or "", "similarity": lookup.found.similarity})
    reasks = sum(1 for i in items if i.reask)
    return {
        "prompts": len(items),
        "reasks": reasks,
        "reask_share": round(reasks / len(items), 4),
        "hits": hits,
        "hit_rate": round(hits / len(items), 4),
        "exact_hits": exact,
        "reasks_answered": round(reask_hits / reasks, 4) if reasks else None,
        "false_hits": false_hits,
        "false_hit_examples": wrong[:10],
        "unpaced_lookup_ms_p50": round(percentile(seconds, 50) * 1000, 2),
    }


def run_paced(bench: Bench, items: list[StreamItem], rate: float) -> dict[str, Any]:
    latencies: list[float] = []
    semantic: list[float] = []
    false_hits = hits = 0
    start = time.perf_counter() + 0.5
    for number, item in enumerate(items):
        scheduled = start + number / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        lookup, _, _ = bench.lookup(item)
        latency = time.perf_counter() - scheduled
        latencies.append(latency)
        if lookup.found is None or lookup.found.layer == "semantic":
            semantic.append(latency)  # these computed an embedding
        verdict = bench.judge(item, lookup)
        hits += verdict is not None
        false_hits += verdict is False
    elapsed = time.perf_counter() - start
    return {
        "lookups": len(items),
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(len(items) / elapsed, 2),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p90_ms": round(percentile(latencies, 90) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2),
        "embedded_lookups": len(semantic),
        "embedded_p50_ms": round(percentile(semantic, 50) * 1000, 2) if semantic else None,
        "embedded_p99_ms": round(percentile(semantic, 99) * 1000, 2) if semantic else None,
        "hits": hits,
        "false_hits": false_hits,
    }


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", type=int, default=1000, help="prompts in the hit-rate stream")
    parser.add_argument("--reask", type=float, default=0.3, help="share of prompts that re-ask an earlier question")
    parser.add_argument("--rate", type=float, default=50.0, help="lookups per second in the latency phase")
    parser.add_argument("--lookups", type=int, default=1500, help="lookups in the latency phase")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-latency", action="store_true", help="hit rates only")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        home = Path(tmp)
        server = EmbeddedRedis(free_port(), home / "redis").start()
        try:
            data = load_config(sample_config_path()).model_dump()
            data["redis"] = {"url": server.url}
            data["cache"]["chroma"] = {"path": str(home / "chroma")}
            config = BrokerConfig.model_validate(data)
            embedder = MiniLMEmbedder()
            index = VectorIndex(chroma_client(config.cache.chroma, home), embedder.name)
            service = CacheService(config, redis.Redis.from_url(server.url), embedder, index)
            embedder.embed(["warm up the model"])
            freeze_loaded_heap()  # as the cache worker does once loaded
            before = machine()
            # each stream in its own team, so each fills its own cache scope
            bench = Bench(service, config, "support")
            stream = run_stream(bench, generate(args.stream, args.reask, args.seed, "phrasing"))
            surface_items = generate(args.stream, args.reask, args.seed, "surface")
            surface = run_stream(Bench(service, config, "search"), surface_items)
            heldout_items = generate(args.stream, args.reask, args.seed, "heldout")
            heldout = run_stream(Bench(service, config, "heldout"), heldout_items)
            heldout2_items = generate(args.stream, args.reask, args.seed, "heldout2")
            heldout2 = run_stream(Bench(service, config, "heldout2"), heldout2_items)
            paced = None if args.skip_latency else run_paced(bench, sample(args.lookups, args.seed + 1), args.rate)
        finally:
            server.stop()
    report = {
        "benchmark": "cache",
        "threshold": config.cache.threshold,
        "same_words_threshold": config.cache.same_words_threshold,
        "candidates": config.cache.candidates,
        "guard": config.cache.guard,
        "embedder_engine": embedder.engine,
        "stream": stream,
        "stream_surface_reasks": surface,
        "stream_heldout_reasks": heldout,
        "stream_heldout2_reasks": heldout2,
        "latency": paced,
        "scope_entries": len(bench.question_of),
        "machine": {**before, "load_avg_1m_after": round(os.getloadavg()[0], 2)},
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
