"""Compaction: merge a partition's small ledger files into one, deduplicated by job id
and attempt, so reports open a few large files instead of thousands of tiny ones.

Only files whose every row is acknowledged are merged (no crash recovery can rewrite
them later). The merge is made crash-safe by a manifest: write ``m_…json`` (output and
inputs), write the output, delete the inputs, delete the manifest. Readers skip inputs
of a manifest whose output exists; the next compaction finishes what a crash left.
A Redis lock per partition keeps two sinks from merging the same files.
"""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.compute as pc
from redis import Redis

from broker import keys
from broker.ledger.layout import (
    SCHEMA,
    LedgerFile,
    Partition,
    StreamId,
    compactable,
    file_name,
    parse_stream_id,
    superseded,
)
from broker.ledger.storage import LedgerStorage
from schemas.config import LedgerConfig

log = logging.getLogger(__name__)
LOCK_TTL_MS = 10 * 60 * 1000
SINK_GROUP = "usage-sink"


def acknowledged_bounds(redis: Redis) -> tuple[StreamId | None, StreamId]:
    """(oldest pending id, last delivered id) of the sink's group, read atomically."""
    with redis.pipeline(transaction=True) as pipe:
        pipe.xpending(keys.USAGE_STREAM, SINK_GROUP)
        pipe.xinfo_groups(keys.USAGE_STREAM)
        pending, groups = pipe.execute()
    oldest = parse_stream_id(pending["min"]) if pending and pending.get("pending") else None
    group = next((g for g in groups if _text(g["name"]) == SINK_GROUP), None)
    last = parse_stream_id(group["last-delivered-id"]) if group else (0, 0)
    return oldest, last


def dedupe(table: pa.Table) -> pa.Table:
    """One row per (job id, attempt), the first in stream order; sorted by stream id."""
    table = table.sort_by([("stream_ms", "ascending"), ("stream_seq", "ascending")])
    indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    firsts = indexed.group_by(["job_id", "attempt"], use_threads=False).aggregate([("__row", "min")])
    keep = pc.sort_indices(firsts.column("__row_min"))
    return table.take(pc.take(firsts.column("__row_min"), keep))


def finish_interrupted(storage: LedgerStorage, partition: Partition, files: list[LedgerFile]) -> list[LedgerFile]:
    """Complete (or abandon) compactions a crash interrupted; returns the remaining files."""
    manifests = storage.manifests(partition, files)
    if not any(f.kind == "m" for f in files):
        return files
    gone = superseded(files, manifests)
    storage.delete(partition, sorted(gone))
    storage.delete(partition, [f.name for f in files if f.kind == "m"])
    if gone:
        log.warning("finished an interrupted compaction in %s (%d inputs removed)", partition.path, len(gone))
    return [f for f in files if f.kind != "m" and f.name not in gone]


def compact_partition(
    storage: LedgerStorage,
    partition: Partition,
    bounds: tuple[StreamId | None, StreamId],
    config: LedgerConfig,
) -> int:
    """Merge the partition's small acknowledged files when there are enough; returns files merged."""
    storage.remove_temporaries(partition)
    files = finish_interrupted(storage, partition, storage.files(partition))
    chosen = compactable(files, bounds[0], bounds[1], int(config.compact_target_mb * 1024 * 1024))
    if len(chosen) < config.compact_min_files:
        return 0
    output = file_name("c", min(f.first for f in chosen), max(f.last for f in chosen))
    inputs = [f.name for f in chosen]
    merged = dedupe(storage.read_table(partition, inputs).select(SCHEMA.names).cast(SCHEMA))
    manifest = file_name("m", min(f.first for f in chosen), max(f.last for f in chosen))
    storage.write_json(partition, manifest, {"output": output, "inputs": inputs})
    storage.write_table(partition, output, merged)
    storage.delete(partition, [name for name in inputs if name != output])
    storage.delete(partition, [manifest])
    return len(inputs)


def compact_ledger(storage: LedgerStorage, redis: Redis, config: LedgerConfig) -> int:
    """One compaction pass over every partition this process can lock."""
    bounds = acknowledged_bounds(redis)
    merged = 0
    for partition in storage.partitions():
        lock = keys.ledger_lock(f"{storage.location}|{partition.path}")
        if not redis.set(lock, "1", nx=True, px=LOCK_TTL_MS):
            continue
        try:
            merged += compact_partition(storage, partition, bounds, config)
        finally:
            redis.delete(lock)
    return merged


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
