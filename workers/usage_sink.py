"""The usage sink: drain the Redis usage stream into the Parquet ledger, acknowledging an
entry only after the file holding it is durable.

Exactly once, across crashes, without deduplicating at read time:

* New entries (``XREADGROUP >``) were never written anywhere: write, then acknowledge and
  delete them in one MULTI.
* A crash between write and acknowledgement leaves files whose first stream id is still
  pending. Recovery takes every such entry (this consumer's own, and other consumers'
  idle ones through ``XAUTOCLAIM``), writes them again, deletes the earlier files whose
  first id is among them, then acknowledges: the rows end up in the ledger once.
* Entries whose record cannot be parsed go to a dead-letter stream, never to /dev/null.

Records are parsed column-wise by pyarrow's JSON reader (the stream carries the
``UsageRecord`` JSON that finish.lua appended), which is what lets one process ingest
tens of thousands of rows a second.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from pydantic import ValidationError
from redis import Redis
from redis.exceptions import ResponseError

from broker import keys
from broker.ledger.layout import (
    RECORD_SCHEMA,
    SCHEMA,
    Partition,
    StreamId,
    file_name,
    parse_stream_id,
    stale_batch_files,
)
from broker.ledger.storage import LedgerStorage
from schemas.config import LedgerConfig
from schemas.usage import UsageRecord
from workers.ledger_compaction import compact_ledger

log = logging.getLogger(__name__)

GROUP = "usage-sink"
# Tests set this to "after-write" to SIGKILL the sink between writing a batch and
# acknowledging it: the one crash point that matters for exactly-once.
FAILPOINT_ENV = "USAGE_SINK_FAILPOINT"
Entry = tuple[bytes, dict[bytes, bytes]]
_PARSE = pajson.ParseOptions(explicit_schema=RECORD_SCHEMA, unexpected_field_behavior="ignore")


@dataclass
class Decoded:
    table: pa.Table  # rows in stream order, with month and stream id columns
    dead: list[Entry]  # entries that are not usage records


def decode(entries: list[Entry]) -> Decoded:
    """Stream entries -> a ledger table; the fast columnar path, else record by record."""
    ids = [parse_stream_id(entry_id) for entry_id, _ in entries]
    payloads = [fields.get(b"record", b"") for _, fields in entries]
    try:
        table = pajson.read_json(io.BytesIO(b"\n".join(payloads)), parse_options=_PARSE)
        if table.num_rows != len(entries) or table.column("job_id").null_count or table.column("team").null_count:
            raise ValueError("not one complete usage record per entry")
        dead: list[Entry] = []
    except (pa.ArrowInvalid, ValueError):
        good, good_ids, dead = [], [], []
        for entry, stream_id, payload in zip(entries, ids, payloads, strict=True):
            try:
                good.append(UsageRecord.model_validate_json(payload).model_dump())
                good_ids.append(stream_id)
            except ValidationError:
                dead.append(entry)
        table, ids = pa.Table.from_pylist(good, schema=RECORD_SCHEMA), good_ids
    return Decoded(with_ledger_columns(table, ids), dead)


def with_ledger_columns(table: pa.Table, ids: list[StreamId]) -> pa.Table:
    micros = pc.cast(pc.floor(pc.multiply(table.column("finished_at"), 1_000_000)), pa.int64())
    month = pc.strftime(pc.cast(micros, pa.timestamp("us", tz="UTC")), format="%Y-%m")
    table = table.append_column("month", month)
    table = table.append_column("stream_ms", pa.array([i[0] for i in ids], pa.int64()))
    table = table.append_column("stream_seq", pa.array([i[1] for i in ids], pa.int64()))
    return table.select(SCHEMA.names).cast(SCHEMA)


def split(table: pa.Table) -> dict[Partition, pa.Table]:
    """Rows by (month, team) partition, each in stream order."""
    if table.num_rows == 0:
        return {}
    keys_ = pc.binary_join_element_wise(table.column("month"), table.column("team"), "\x1f")
    parts = {}
    for key in pc.unique(keys_).to_pylist():
        month, team = key.split("\x1f", 1)
        parts[Partition(month, team)] = table.filter(pc.equal(keys_, key))
    return parts


def partition_name(table: pa.Table) -> str:
    ms, seq = table.column("stream_ms").to_pylist(), table.column("stream_seq").to_pylist()
    ids = list(zip(ms, seq, strict=True))
    return file_name("b", min(ids), max(ids))


def write_records(storage: LedgerStorage, records: list[UsageRecord], first: StreamId = (1, 0)) -> None:
    """Write usage records as ledger batch files, numbered as if read from the stream at
    ``first``: for tools and tests (the sink itself writes what it reads from the stream)."""
    ids = [(first[0], first[1] + i) for i in range(len(records))]
    table = pa.Table.from_pylist([r.model_dump() for r in records], schema=RECORD_SCHEMA)
    for partition, rows in split(with_ledger_columns(table, ids)).items():
        storage.write_table(partition, partition_name(rows), rows)


class UsageSink:
    def __init__(self, redis: Redis, storage: LedgerStorage, consumer: str, config: LedgerConfig | None = None) -> None:
        self.redis = redis
        self.storage = storage
        self.consumer = consumer
        self.config = config or LedgerConfig()
        self._next_compaction = 0.0
        self._next_recovery = 0.0
        try:
            redis.xgroup_create(keys.USAGE_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # --- one step each --------------------------------------------------------------------
    def recover(self) -> int:
        """Rewrite every entry read but never acknowledged: this consumer's own (a previous
        run of it crashed) and other consumers' that sat idle past ``claim_idle_s``."""
        entries = dict(self._read("0", None, count=None))
        idle_ms = int(self.config.claim_idle_s * 1000)
        cursor = "0-0"
        while True:
            answer = self.redis.xautoclaim(keys.USAGE_STREAM, GROUP, self.consumer, idle_ms, cursor, count=1000)
            cursor, claimed = answer[0], answer[1]
            entries.update((entry_id, fields) for entry_id, fields in claimed if fields)
            deleted = [entry_id for entry_id, fields in claimed if not fields]
            if len(answer) > 2:
                deleted += list(answer[2])
            if deleted:  # pending but already deleted from the stream: nothing left to write
                self.redis.xack(keys.USAGE_STREAM, GROUP, *deleted)
            if cursor in (b"0-0", "0-0"):
                break
        if not entries:
            return 0
        ordered = sorted(entries.items(), key=lambda item: parse_stream_id(item[0]))
        self._write_and_ack(ordered, recovering=True)
        log.warning("sink recovered %d unacknowledged usage entries", len(ordered))
        return len(ordered)

    def drain_once(self, block_ms: int | None = None) -> int:
        """One batch of new entries: write, then acknowledge. Returns rows taken."""
        entries = self._read(">", self.config.block_ms if block_ms is None else block_ms, self.config.batch_size)
        if entries:
            self._write_and_ack(entries, recovering=False)
        return len(entries)

    def compact(self) -> int:
        return compact_ledger(self.storage, self.redis, self.config)

    # --- the loop -------------------------------------------------------------------------
    def run(self, stop: Any) -> None:
        while not stop.is_set():
            try:
                now = time.monotonic()
                if now >= self._next_recovery:
                    self.recover()
                    self._next_recovery = now + self.config.claim_idle_s / 2
                count = self.drain_once()
                if count:
                    log.info("sink wrote %d usage rows", count)
                if time.monotonic() >= self._next_compaction:
                    merged = self.compact()
                    if merged:
                        log.info("sink compacted %d ledger files", merged)
                    self._next_compaction = time.monotonic() + self.config.compact_interval_s
            except Exception:
                log.exception("usage sink step failed; retrying")
                stop.wait(1.0)

    # --- internals ------------------------------------------------------------------------
    def _read(self, start: str, block_ms: int | None, count: int | None) -> list[Entry]:
        answer: Any = self.redis.xreadgroup(
            GROUP, self.consumer, {keys.USAGE_STREAM: start}, count=count, block=block_ms
        )
        return list(answer[0][1]) if answer else []

    def _write_and_ack(self, entries: list[Entry], recovering: bool) -> None:
        decoded = decode(entries)
        written: dict[Partition, str] = {}
        for partition, rows in split(decoded.table).items():
            name = partition_name(rows)
            self.storage.write_table(partition, name, rows)
            written[partition] = name
        if recovering:
            self._remove_stale(entries, written)
        if os.environ.get(FAILPOINT_ENV) == "after-write":
            os.kill(os.getpid(), signal.SIGKILL)
        ids = [entry_id for entry_id, _ in entries]
        with self.redis.pipeline(transaction=True) as pipe:
            for entry_id, fields in decoded.dead:
                dead: dict[Any, Any] = {"entry_id": entry_id, **fields}
                pipe.xadd(keys.USAGE_DEAD, dead)
            pipe.xack(keys.USAGE_STREAM, GROUP, *ids)
            pipe.xdel(keys.USAGE_STREAM, *ids)
            pipe.execute()
        if decoded.dead:
            log.error("sink moved %d unparseable usage entries to %s", len(decoded.dead), keys.USAGE_DEAD)

    def _remove_stale(self, entries: list[Entry], written: dict[Partition, str]) -> None:
        """Delete files an interrupted write left: in the partitions of the recovered rows,
        those whose first id is one of the recovered entries (other than what we just wrote)."""
        pending = {parse_stream_id(entry_id) for entry_id, _ in entries}
        for partition, name in written.items():
            stale = stale_batch_files(self.storage.files(partition), pending, {name})
            if stale:
                self.storage.delete(partition, [f.name for f in stale])
                log.warning("sink removed %d files of an interrupted write in %s", len(stale), partition.path)


def dead_letters(redis: Redis, count: int = 100) -> list[dict[str, Any]]:
    """Entries the sink could not parse (for an operator to inspect)."""
    found: Any = redis.xrange(keys.USAGE_DEAD, count=count)
    return [
        {"id": entry_id.decode(), **{k.decode(): v.decode(errors="replace") for k, v in fields.items()}}
        for entry_id, fields in found
    ]
