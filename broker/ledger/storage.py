"""Where the ledger lives: a local folder, or anything ``pyarrow.fs`` opens (``s3://``,
``gs://``, ``abfs://``, ``hdfs://``).

Writes must be durable and atomic, since readers and the sink's crash recovery trust
that a file either is complete or is not there. Locally that is write to a temporary
name, fsync, rename, fsync the folder. On object storage a PUT is atomic by itself, so
the file is written under its final name (there is no rename to lean on).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from broker.ledger.layout import LedgerFile, Partition, parse_file, parse_partition

PARQUET_OPTIONS = {"compression": "zstd", "row_group_size": 256 * 1024}


class LedgerStorage:
    """The ledger's files. ``location``: a folder path, ``file://`` URL, or a URL pyarrow
    opens; ``filesystem`` forces the generic (object-store) code path for a given path."""

    def __init__(self, location: str | Path, filesystem: pafs.FileSystem | None = None) -> None:
        text = str(location)
        if filesystem is not None:
            self.fs, self.root, self.local = filesystem, text.rstrip("/"), False
        elif "://" in text and not text.startswith("file://"):
            self.fs, path = pafs.FileSystem.from_uri(text)
            self.root, self.local = path.rstrip("/"), False
        else:
            path = text.removeprefix("file://")
            self.fs, self.root, self.local = pafs.LocalFileSystem(), str(Path(path).resolve()), True
        self.location = text

    def path(self, partition: Partition, name: str = "") -> str:
        base = f"{self.root}/{partition.path}"
        return f"{base}/{name}" if name else base

    # --- listing ------------------------------------------------------------------------
    def partitions(self, months: list[str] | None = None) -> list[Partition]:
        found = []
        for month_dir in self._dirs(self.root, "month="):
            month = month_dir.rsplit("month=", 1)[1]
            if months is not None and month not in months:
                continue
            for team_dir in self._dirs(month_dir, "team="):
                partition = parse_partition(team_dir)
                if partition is not None:
                    found.append(partition)
        return sorted(found, key=lambda p: (p.month, p.team))

    def files(self, partition: Partition) -> list[LedgerFile]:
        folder = self.path(partition)
        if self.local:
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                return []
            parsed = (parse_file(e.name, e.stat().st_size) for e in entries if e.is_file())
        else:
            infos = self.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
            parsed = (parse_file(i.base_name, i.size or 0) for i in infos if i.type == pafs.FileType.File)
        return sorted((f for f in parsed if f is not None), key=lambda f: (f.first, f.kind))

    def remove_temporaries(self, partition: Partition, older_than_s: float = 3600.0) -> int:
        """Delete temporary files a crash mid-write left behind (local folders only: object
        stores never show a half-written object)."""
        if not self.local:
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.path(partition)):
                if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.stat().st_mtime < cutoff:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed

    def _dirs(self, folder: str, prefix: str) -> list[str]:
        if self.local:
            try:
                return [e.path for e in os.scandir(folder) if e.is_dir() and e.name.startswith(prefix)]
            except FileNotFoundError:
                return []
        infos = self.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        return [i.path for i in infos if i.type == pafs.FileType.Directory and i.base_name.startswith(prefix)]

    # --- writing ------------------------------------------------------------------------
    def write_table(self, partition: Partition, name: str, table: pa.Table) -> None:
        """Durably and atomically: after return the file is complete and survives a crash."""
        final = self.path(partition, name)
        if not self.local:
            self.fs.create_dir(self.path(partition), recursive=True)
            pq.write_table(table, final, filesystem=self.fs, **PARQUET_OPTIONS)
            return
        folder = Path(self.path(partition))
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as handle:
                pq.write_table(table, handle, **PARQUET_OPTIONS)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(folder)

    def write_json(self, partition: Partition, name: str, value: object) -> None:
        data = json.dumps(value).encode()
        final = self.path(partition, name)
        if not self.local:
            with self.fs.open_output_stream(final) as out:
                out.write(data)
            return
        folder = Path(self.path(partition))
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        _fsync_dir(folder)

    def delete(self, partition: Partition, names: list[str]) -> None:
        for name in names:
            path = self.path(partition, name)
            if self.local:
                Path(path).unlink(missing_ok=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.delete_file(path)
        if self.local and names:
            _fsync_dir(Path(self.path(partition)))

    # --- reading ------------------------------------------------------------------------
    def read_table(self, partition: Partition, names: list[str]) -> pa.Table:
        tables = [pq.read_table(self.path(partition, n), filesystem=None if self.local else self.fs) for n in names]
        return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})

    def read_json(self, partition: Partition, name: str) -> object:
        if self.local:
            return json.loads(Path(self.path(partition, name)).read_bytes())
        with self.fs.open_input_stream(self.path(partition, name)) as stream:
            return json.loads(stream.read())

    def manifests(self, partition: Partition, files: list[LedgerFile]) -> dict[str, list[str]]:
        """Compaction manifests of the folder: name -> [output, *inputs]."""
        found: dict[str, list[str]] = {}
        for f in files:
            if f.kind != "m":
                continue
            try:
                value = self.read_json(partition, f.name)
            except (FileNotFoundError, ValueError):
                continue  # finished (deleted) or half-written (never committed anything)
            if isinstance(value, dict):
                found[f.name] = [value["output"], *value["inputs"]]
        return found


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
