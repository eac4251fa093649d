"""The ledger's layout on disk (or in a bucket): one Parquet schema, hive-style partition
folders ``month=YYYY-MM/team=NAME``, and file names that say which usage-stream entries a
file holds. Pure: names in, facts out.

Three kinds of file live in a partition folder:

* ``b_<first>_<last>.parquet`` — a batch the usage sink wrote; ``first``/``last`` are
  the smallest and largest stream ids of its rows (``<ms>-<seq>``). The sink's crash
  recovery finds the files of an unacknowledged batch by their first id.
* ``c_<first>_<last>.parquet`` — a compaction of acknowledged files, deduplicated by
  job id and attempt.
* ``m_<first>_<last>.json`` — the manifest of a compaction in progress: once its output
  exists, the inputs it lists are superseded even if a crash left them behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

STRING_COLUMNS = (
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
INT_COLUMNS = ("attempt", "input_tokens", "output_tokens", "cached_tokens", "template_version")
FLOAT_COLUMNS = ("cost_usd", "saved_usd", "routing_saved_usd", "latency_ms", "created_at", "finished_at")

# the usage record as it arrives on the stream (schemas.usage.UsageRecord)
RECORD_SCHEMA = pa.schema(
    [(n, pa.string()) for n in STRING_COLUMNS]
    + [(n, pa.int64()) for n in INT_COLUMNS]
    + [(n, pa.float64()) for n in FLOAT_COLUMNS]
    + [("cache_hit", pa.bool_())]
)
# what a ledger file holds: the record, its partition month, and its stream id
SCHEMA = RECORD_SCHEMA.append(pa.field("month", pa.string()))
SCHEMA = SCHEMA.append(pa.field("stream_ms", pa.int64())).append(pa.field("stream_seq", pa.int64()))
COLUMNS = tuple(SCHEMA.names)

StreamId = tuple[int, int]
_FILE = re.compile(r"^([bcm])_(\d+)-(\d+)_(\d+)-(\d+)\.(parquet|json)$")


def parse_stream_id(raw: str | bytes) -> StreamId:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_stream_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


@dataclass(frozen=True)
class Partition:
    month: str
    team: str

    @property
    def path(self) -> str:
        return f"month={self.month}/team={self.team}"


@dataclass(frozen=True)
class LedgerFile:
    """A file of a partition, with the stream-id range its name states."""

    kind: str  # "b" batch, "c" compacted, "m" manifest
    first: StreamId
    last: StreamId
    name: str
    size: int = 0


def file_name(kind: str, first: StreamId, last: StreamId) -> str:
    extension = "json" if kind == "m" else "parquet"
    return f"{kind}_{format_stream_id(first)}_{format_stream_id(last)}.{extension}"


def parse_file(name: str, size: int = 0) -> LedgerFile | None:
    """A ledger file's facts from its name; None for anything else (temporary files...)."""
    match = _FILE.match(name)
    if not match:
        return None
    kind, ms1, seq1, ms2, seq2, extension = match.groups()
    if (kind == "m") != (extension == "json"):
        return None
    return LedgerFile(kind, (int(ms1), int(seq1)), (int(ms2), int(seq2)), name, size)


def parse_partition(path: str) -> Partition | None:
    """``.../month=2026-11/team=search`` -> Partition; None if the path is not one."""
    parts = path.rstrip("/").split("/")
    if len(parts) < 2 or not parts[-2].startswith("month=") or not parts[-1].startswith("team="):
        return None
    return Partition(parts[-2][len("month=") :], parts[-1][len("team=") :])


def stale_batch_files(files: list[LedgerFile], pending: set[StreamId], written: set[str]) -> list[LedgerFile]:
    """Batch files left by a write whose entries were never acknowledged: their first id is
    still pending. ``written`` are the files the recovery itself just wrote (keep those)."""
    return [f for f in files if f.kind == "b" and f.first in pending and f.name not in written]


def superseded(files: list[LedgerFile], manifests: dict[str, list[str]]) -> set[str]:
    """Inputs of compactions whose output exists (``manifests``: manifest name -> [output,
    *inputs]); a reader ignores them and the compactor deletes them."""
    present = {f.name for f in files}
    gone: set[str] = set()
    for listed in manifests.values():
        output, *inputs = listed
        if output in present:
            gone.update(name for name in inputs if name != output)
    return gone


def compactable(
    files: list[LedgerFile], min_pending: StreamId | None, last_delivered: StreamId, target_bytes: int
) -> list[LedgerFile]:
    """Data files whose every row is acknowledged (so no crash recovery can rewrite them) and
    that are still small. A file's ids are all acknowledged when its last id was delivered
    and is below the oldest pending entry."""
    bound_ok = [
        f
        for f in files
        if f.kind in ("b", "c") and f.last <= last_delivered and (min_pending is None or f.last < min_pending)
    ]
    return sorted((f for f in bound_ok if f.size < target_bytes), key=lambda f: f.first)
