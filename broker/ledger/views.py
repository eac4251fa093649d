"""DuckDB over the ledger: a ``usage`` view with one row per job and attempt.

The view is built from a listing of the partitions asked for (a month's report reads
only that month's folders). Compacted files are deduplicated when they are written, so
they are read as they are; the few recent batch files are deduplicated by job id and
attempt in the view, which covers the one window where a row can exist twice (another
sink wrote a batch whose entries a recovering sink took over). Inputs of a finished
compaction that a crash left behind are skipped.

Local folders are read by DuckDB's own Parquet reader; object storage through a pyarrow
dataset that DuckDB scans (no DuckDB extension needs downloading).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import duckdb
import pyarrow.dataset as ds

from broker.ledger.layout import COLUMNS, SCHEMA, superseded
from broker.ledger.storage import LedgerStorage

T = TypeVar("T")
_SELECT = ", ".join(f'"{c}"' for c in COLUMNS)


@dataclass
class Snapshot:
    """The data files a query reads: compacted ones as they are, batch files deduplicated."""

    compacted: list[str] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)


def snapshot(storage: LedgerStorage, months: list[str] | None = None) -> Snapshot:
    found = Snapshot()
    for partition in storage.partitions(months):
        files = storage.files(partition)
        skip = superseded(files, storage.manifests(partition, files)) if any(f.kind == "m" for f in files) else set()
        for f in files:
            if f.name in skip or f.kind == "m":
                continue
            (found.compacted if f.kind == "c" else found.batches).append(storage.path(partition, f.name))
    return found


def _scan(con: duckdb.DuckDBPyConnection, storage: LedgerStorage, name: str, paths: list[str]) -> str:
    """A FROM clause reading ``paths``; missing columns of older files read as NULL."""
    if storage.local:
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        return f"read_parquet([{listed}], union_by_name = true)"
    con.register(name, ds.dataset(paths, schema=SCHEMA, format="parquet", filesystem=storage.fs))
    return name


def connect(storage: LedgerStorage, months: list[str] | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the ``usage`` view over the given months (default: all)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = snapshot(storage, months)
    parts = []
    if files.compacted:
        parts.append(f"SELECT {_SELECT} FROM {_scan(con, storage, 'ledger_compacted', files.compacted)}")
    if files.batches:
        scan = _scan(con, storage, "ledger_batches", files.batches)
        parts.append(f"SELECT DISTINCT ON (month, team, job_id, attempt) {_SELECT} FROM {scan}")
    if not parts:
        con.register("ledger_empty", SCHEMA.empty_table())
        parts.append(f"SELECT {_SELECT} FROM ledger_empty")
    con.execute("CREATE VIEW usage AS " + " UNION ALL ".join(parts))
    return con


def duplicates(storage: LedgerStorage, months: list[str] | None = None) -> tuple[int, int, int]:
    """(data files, rows, rows repeating a (month, team, job id, attempt)) over every data
    file as it is, without the view's deduplication: what ``llm-broker ledger check`` shows."""
    files = snapshot(storage, months)
    paths = files.compacted + files.batches
    if not paths:
        return 0, 0, 0
    con = duckdb.connect()
    try:
        scan = _scan(con, storage, "ledger_all", paths)
        rows, distinct = con.execute(
            f"SELECT count(*), count(DISTINCT (month, team, job_id, attempt)) FROM {scan}"
        ).fetchone() or (0, 0)
    finally:
        con.close()
    return len(paths), int(rows), int(rows) - int(distinct)


def with_ledger(storage: LedgerStorage, months: list[str] | None, query: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run ``query`` on a fresh view; retried when compaction removed a file mid-read."""
    for attempt in range(5):
        con = connect(storage, months)
        try:
            return query(con)
        except (duckdb.IOException, FileNotFoundError, OSError):
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
        finally:
            con.close()
    raise AssertionError("unreachable")
