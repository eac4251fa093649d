"""The usage sink on a real Redis: exactly once into the ledger across crashes between
writing and acknowledging (in process, and a real `llm-broker sink` killed with SIGKILL),
takeover of another sink's idle entries, dead letters, compaction while draining."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import redis
import yaml

from broker import keys
from broker.ledger.layout import file_name
from broker.ledger.reports import totals
from broker.ledger.storage import LedgerStorage
from broker.ledger.views import snapshot
from schemas.config import LedgerConfig
from schemas.usage import UsageRecord
from scripts.embedded_redis import EmbeddedRedis
from tests.conftest import broker_config
from workers.usage_sink import FAILPOINT_ENV, GROUP, UsageSink, decode, split

pytestmark = pytest.mark.integration
NOV = 1795000000.0


def fill(client: redis.Redis, n: int, start: int = 0, teams: int = 3) -> float:
    """Append ``n`` usage records as finish.lua does; returns their total cost."""
    total = 0.0
    pipe = client.pipeline(transaction=False)
    for i in range(start, start + n):
        cost = round(0.000001 * (i % 997 + 1), 10)
        total += cost
        record = UsageRecord(
            job_id=f"job_{i:08d}",
            attempt=1 + i % 2,
            team=f"team{i % teams}",
            user="u",
            key_id="k",
            feature=f"f{i % 5}",
            provider="openai",
            model="gpt-4o-mini",
            state="succeeded",
            input_tokens=100,
            output_tokens=i % 50,
            cost_usd=cost,
            latency_ms=float(i % 1000),
            created_at=NOV,
            finished_at=NOV + i % 1000,
        )
        pipe.xadd(keys.USAGE_STREAM, {"job_id": record.job_id, "record": record.model_dump_json()})
        if len(pipe) >= 1000:
            pipe.execute()
    pipe.execute()
    return total


def ledger_rows(storage: LedgerStorage) -> tuple[int, int]:
    """(rows in data files, duplicate (job, attempt) rows), reading every file as it is."""
    files = snapshot(storage)
    paths = files.compacted + files.batches
    if not paths:
        return 0, 0
    listed = ", ".join(f"'{p}'" for p in paths)
    rows, distinct = duckdb.execute(
        f"SELECT count(*), count(DISTINCT (job_id, attempt)) FROM read_parquet([{listed}], union_by_name = true)"
    ).fetchone()
    return rows, rows - distinct


def write_without_ack(sink: UsageSink, count: int) -> list[bytes]:
    """What a sink does before it crashes: read a batch, write its files, no acknowledgement."""
    entries = sink._read(">", None, count)
    for partition, rows in split(decode(entries).table).items():
        ids = list(zip(rows.column("stream_ms").to_pylist(), rows.column("stream_seq").to_pylist(), strict=True))
        sink.storage.write_table(partition, file_name("b", min(ids), max(ids)), rows)
    return [entry_id for entry_id, _ in entries]


@pytest.fixture
def client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_server.url)
    yield c
    c.close()


def drain(sink: UsageSink) -> None:
    sink.recover()
    while sink.drain_once(block_ms=10):
        pass


def test_a_restarted_sink_rewrites_its_unacknowledged_batch_once(client: redis.Redis, tmp_path: Path) -> None:
    storage = LedgerStorage(tmp_path / "ledger")
    expected = fill(client, 100)
    crashed = UsageSink(client, storage, "sink-1", LedgerConfig(batch_size=30))
    assert len(write_without_ack(crashed, 30)) == 30
    assert ledger_rows(storage) == (30, 0)
    restarted = UsageSink(client, storage, "sink-1", LedgerConfig(batch_size=30))
    assert restarted.recover() == 30
    assert ledger_rows(storage) == (30, 0)
    drain(restarted)
    assert ledger_rows(storage) == (100, 0)
    total = totals(storage)
    assert total["jobs"] == 100 and total["cost_usd"] == pytest.approx(expected, abs=1e-9)
    assert client.xlen(keys.USAGE_STREAM) == 0
    assert client.xpending(keys.USAGE_STREAM, GROUP)["pending"] == 0


def test_idle_entries_of_dead_sinks_are_taken_over_and_their_files_replaced(
    client: redis.Redis, tmp_path: Path
) -> None:
    storage = LedgerStorage(tmp_path / "ledger")
    fill(client, 90)
    write_without_ack(UsageSink(client, storage, "dead-a", LedgerConfig()), 30)
    write_without_ack(UsageSink(client, storage, "dead-b", LedgerConfig()), 30)
    assert ledger_rows(storage) == (60, 0)
    survivor = UsageSink(client, storage, "survivor", LedgerConfig(claim_idle_s=0.05))
    time.sleep(0.1)  # let the dead sinks' entries become idle (a condition, not a timing assertion)
    assert survivor.recover() == 60
    assert ledger_rows(storage) == (60, 0)
    for partition in storage.partitions():
        assert len(storage.files(partition)) == 1  # the two crashed files were replaced by one
    drain(survivor)
    assert ledger_rows(storage) == (90, 0) and totals(storage)["jobs"] == 90


def test_unparseable_entries_go_to_dead_letters(client: redis.Redis, tmp_path: Path) -> None:
    storage = LedgerStorage(tmp_path / "ledger")
    fill(client, 5)
    client.xadd(keys.USAGE_STREAM, {"job_id": "job_bad", "record": '{"job_id": "job_bad"}'})
    fill(client, 5, start=5)
    drain(UsageSink(client, storage, "s", LedgerConfig()))
    assert totals(storage)["jobs"] == 10
    dead = client.xrange(keys.USAGE_DEAD)
    assert len(dead) == 1 and dead[0][1][b"job_id"] == b"job_bad"
    assert client.xlen(keys.USAGE_STREAM) == 0


def sink_process(config_path: Path, home: Path, failpoint: bool = False) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_BROKER_")}
    env.update(LLM_BROKER_CONFIG=str(config_path), LLM_BROKER_HOME=str(home))
    if failpoint:
        env[FAILPOINT_ENV] = "after-write"
    log = open(home / "sink.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", "broker.cli.main", "sink"], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def wait_until(condition, timeout_s: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_sink_killed_with_sigkill_mid_batch_loses_and_duplicates_nothing(
    client: redis.Redis, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = broker_config(
        redis={"url": redis_server.url},
        ledger={
            "location": str(tmp_path / "ledger"),
            "batch_size": 4000,
            "compact_interval_s": 0.5,
            "compact_min_files": 3,
            "claim_idle_s": 1.0,
        },
    )
    config_path = home / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    storage = LedgerStorage(tmp_path / "ledger")
    expected = fill(client, 30_000)

    # 1. deterministic: killed (SIGKILL, by itself) after writing a batch, before acknowledging it
    crashed = sink_process(config_path, home, failpoint=True)
    assert crashed.wait(120) == -signal.SIGKILL
    rows, _ = ledger_rows(storage)
    assert rows == 4000 and client.xpending(keys.USAGE_STREAM, GROUP)["pending"] == 4000

    # 2. random: killed with SIGKILL at arbitrary moments while draining
    rng = random.Random(6)
    for _ in range(3):
        victim = sink_process(config_path, home)
        time.sleep(rng.uniform(0.5, 2.5))
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)

    # 3. a clean run drains the rest
    survivor = sink_process(config_path, home)
    try:
        wait_until(lambda: client.xlen(keys.USAGE_STREAM) == 0, what="the stream to drain")
        wait_until(lambda: client.xpending(keys.USAGE_STREAM, GROUP)["pending"] == 0, what="no pending entries")
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(30)
    assert ledger_rows(storage) == (30_000, 0)
    total = totals(storage)
    assert total["jobs"] == 30_000
    assert total["cost_usd"] == pytest.approx(expected, abs=1e-7)
    assert snapshot(storage).compacted, "compaction ran while the sink drained"
