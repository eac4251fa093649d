"""``llm-broker cache calibrate | stats | purge`` as an operator runs them: real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml

from broker.cache.entries import CacheEntry, EntryStore
from schemas.config import CacheConfig
from scripts.embedded_redis import EmbeddedRedis
from tests.conftest import broker_config

pytestmark = pytest.mark.integration
PAIRS = Path(__file__).resolve().parents[1] / "data" / "cache_pairs.jsonl"


def cli(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_BROKER_")}
    env["LLM_BROKER_CONFIG"] = str(config_path)
    return subprocess.run(
        [sys.executable, "-m", "broker.cli.main", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_calibrate_prints_the_table_and_recommends_a_threshold(tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(broker_config()))
    done = cli(config_path, "cache", "calibrate", str(PAIRS), "--json", "--low", "0.7", "--high", "0.95")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["pairs"] == 94 and report["embedder"] == "all-MiniLM-L6-v2"
    assert len(report["table"]) == 2 * 26  # 0.70 .. 0.95, with and without the guard
    assert len(report["same_words_table"]) == 26 and report["same_words_pairs"] > 0
    chosen, single = report["recommended"], report["recommended_single_threshold"]
    assert chosen["guard"] is True and chosen["precision"] >= 0.99 and chosen["recall"] > 0.3
    assert chosen["same_words_threshold"] <= chosen["threshold"] and chosen["recall"] >= single["recall"]
    assert report["false_hits_at_recommended"] == []
    half = cli(config_path, "cache", "calibrate", str(PAIRS), "--json", "--half", "1", "--at", "0.8")
    checked = json.loads(half.stdout.strip().splitlines()[-1])
    assert checked["pairs"] == 47 and checked["at"]["threshold"] == 0.8 == checked["at"]["same_words_threshold"]
    human = cli(config_path, "cache", "calibrate", str(PAIRS), "--low", "0.8", "--high", "0.9")
    assert human.returncode == 0 and "recommended: threshold" in human.stdout


def test_stats_and_purge_from_the_command_line(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(broker_config(redis={"url": redis_server.url})))
    client = redis.Redis.from_url(redis_server.url)
    store = EntryStore(client, CacheConfig())
    for entry_id, owner in (("a1", "alpha"), ("a2", "alpha"), ("b1", "beta")):
        store.put(
            CacheEntry(
                id=entry_id,
                owner=owner,
                scope_id=f"scope-{owner}",
                query="q",
                answer="a",
                finish_reason="stop",
                model="gpt-4o-mini",
                prompt_tokens=1,
                completion_tokens=1,
                created_at=time.time(),
                source_job="job",
            )
        )
    stats = cli(config_path, "cache", "stats", "--team", "alpha")
    assert json.loads(stats.stdout) == {"owner": "alpha", "scopes": 1, "entries": 2}, stats.stderr
    assert cli(config_path, "cache", "purge").returncode != 0  # says what to purge or nothing
    purged = cli(config_path, "cache", "purge", "--team", "alpha")
    assert json.loads(purged.stdout)["purged"] == 2, purged.stderr
    assert store.get("a1") is None and store.get("b1") is not None
    assert client.llen("cache") == 1  # the cache worker is asked to drop the vectors too
    assert json.loads(cli(config_path, "cache", "purge", "--all").stdout)["purged"] == 1
    assert store.get("b1") is None
