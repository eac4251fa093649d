"""The feedback sink: drain the Redis feedback stream into its own Parquet table.

Same discipline as the usage sink: hive-partitioned by month and team, each batch named
after its first and last stream ids and written durably before the entries are
acknowledged, so a crash between the two rewrites the same file rather than adding one.
Reports keep the latest row per job, so a rewritten batch never counts twice.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from redis import Redis
from redis.exceptions import ResponseError

from broker import keys
from broker.budgets.counters import month_of
from schemas.prompts import FeedbackRecord

log = logging.getLogger(__name__)

GROUP = "feedback-sink"
SCHEMA = pa.schema(
    [
        ("job_id", pa.string()),
        ("team", pa.string()),
        ("feature", pa.string()),
        ("template_id", pa.string()),
        ("template_version", pa.int64()),
        ("score", pa.float64()),
        ("label", pa.string()),
        ("created_at", pa.float64()),
    ]
)


def write_feedback(root: Path, records: list[FeedbackRecord], batch_name: str) -> list[Path]:
    parts: dict[tuple[str, str], list[FeedbackRecord]] = defaultdict(list)
    for record in records:
        parts[(month_of(record.created_at), record.team)].append(record)
    written = []
    for (month, team), rows in parts.items():
        folder = root / f"month={month}" / f"team={team}"
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{batch_name}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(pa.Table.from_pylist([r.model_dump() for r in rows], schema=SCHEMA), tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        tmp.replace(final)
        written.append(final)
    return written


class FeedbackSink:
    def __init__(self, redis: Redis, root: Path, consumer: str, batch_size: int = 5000) -> None:
        self.redis = redis
        self.root = root
        self.consumer = consumer
        self.batch_size = batch_size
        try:
            redis.xgroup_create(keys.FEEDBACK_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def drain_once(self, block_ms: int = 1000) -> int:
        """One batch: first anything read but never acknowledged, then new entries."""
        entries = self._read("0", None) or self._read(">", block_ms)
        if not entries:
            return 0
        ids = [entry_id for entry_id, _ in entries]
        records = [FeedbackRecord.model_validate(json.loads(fields[b"record"])) for _, fields in entries]
        name = f"{ids[0].decode().replace('-', '_')}-{ids[-1].decode().replace('-', '_')}"
        write_feedback(self.root, records, name)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(keys.FEEDBACK_STREAM, GROUP, *ids)
            pipe.xdel(keys.FEEDBACK_STREAM, *ids)
            pipe.execute()
        return len(entries)

    def _read(self, start: str, block_ms: int | None) -> list[tuple[bytes, dict[bytes, bytes]]]:
        answer: Any = self.redis.xreadgroup(
            GROUP, self.consumer, {keys.FEEDBACK_STREAM: start}, count=self.batch_size, block=block_ms
        )
        return list(answer[0][1]) if answer else []

    def run(self, stop: object) -> None:
        while not getattr(stop, "is_set", lambda: False)():
            try:
                count = self.drain_once()
                if count:
                    log.info("sink wrote %d feedback rows", count)
            except Exception:
                log.exception("feedback sink batch failed; retrying")
                time.sleep(1)
