"""The usage sink: drain the Redis usage stream into Parquet, acknowledging only after the write.

Files are hive-partitioned by month and team (``month=2026-11/team=search/…``) so
DuckDB prunes whole folders for a month's report. A batch is named after its first and
last stream ids, so a sink that crashes after writing but before acknowledging rewrites
the same file on restart instead of adding a duplicate.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from redis import Redis
from redis.exceptions import ResponseError

from broker import keys
from schemas.usage import UsageRecord

log = logging.getLogger(__name__)

GROUP = "usage-sink"
SCHEMA = pa.schema(
    [
        (name, pa.string())
        for name in (
            "job_id",
            "team",
            "user",
            "key_id",
            "feature",
            "provider",
            "model",
            "state",
            "tier",
            "template_id",
            "batch_id",
        )
    ]
    + [(name, pa.int64()) for name in ("attempt", "input_tokens", "output_tokens", "cached_tokens", "template_version")]
    + [
        (name, pa.float64())
        for name in ("cost_usd", "saved_usd", "routing_saved_usd", "latency_ms", "created_at", "finished_at")
    ]
    + [("cache_hit", pa.bool_())]
)


def month_of(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m")


def partition(records: list[UsageRecord]) -> dict[tuple[str, str], list[UsageRecord]]:
    parts: dict[tuple[str, str], list[UsageRecord]] = defaultdict(list)
    for record in records:
        parts[(month_of(record.finished_at), record.team)].append(record)
    return parts


def write_batch(root: Path, records: list[UsageRecord], batch_name: str) -> list[Path]:
    """Write each partition's rows to a file, durably (fsync, then atomic rename)."""
    written = []
    for (month, team), rows in partition(records).items():
        folder = root / f"month={month}" / f"team={team}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist([r.model_dump() for r in rows], schema=SCHEMA)
        final = folder / f"{batch_name}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(table, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        tmp.replace(final)
        written.append(final)
    return written


class UsageSink:
    def __init__(self, redis: Redis, root: Path, consumer: str, batch_size: int = 5000) -> None:
        self.redis = redis
        self.root = root
        self.consumer = consumer
        self.batch_size = batch_size
        try:
            redis.xgroup_create(keys.USAGE_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def drain_once(self, block_ms: int = 1000) -> int:
        """One batch: first anything this consumer read but never acknowledged, then new entries."""
        entries = self._read("0", None) or self._read(">", block_ms)
        if not entries:
            return 0
        ids = [entry_id for entry_id, _ in entries]
        records = [UsageRecord.model_validate(json.loads(fields[b"record"])) for _, fields in entries]
        name = f"{ids[0].decode().replace('-', '_')}-{ids[-1].decode().replace('-', '_')}"
        write_batch(self.root, records, name)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.USAGE_STREAM, GROUP, *ids)
            pipe.xdel(keys.USAGE_STREAM, *ids)
            pipe.execute()
        return len(entries)

    def _read(self, start: str, block_ms: int | None) -> list[tuple[bytes, dict[bytes, bytes]]]:
        answer = self.redis.xreadgroup(
            GROUP, self.consumer, {keys.USAGE_STREAM: start}, count=self.batch_size, block=block_ms
        )
        return answer[0][1] if answer else []

    def run(self, stop: object) -> None:
        while not getattr(stop, "is_set", lambda: False)():
            try:
                count = self.drain_once()
                if count:
                    log.info("sink wrote %d usage rows", count)
            except Exception:
                log.exception("usage sink batch failed; retrying")
                time.sleep(1)
