"""Files of the Batch API: content on disk under ``$home/files``, metadata in Redis.

Content is written to a temporary name, fsynced and renamed, so a file id in Redis always
points at complete content. Another team's file is reported missing, as jobs are.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from broker import keys
from broker.errors import InvalidRequest, NotFound
from broker.jobstore.records import decode_hash
from broker.redis_clients import as_texts
from schemas.batch import FileObject

UPLOAD_PURPOSES = ("batch",)


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


def file_object(fields: dict[str, str]) -> FileObject:
    return FileObject(
        id=fields["id"],
        bytes=int(fields["bytes"]),
        created_at=int(float(fields["created_at"])),
        filename=fields["filename"],
        purpose=fields["purpose"],
        expires_at=int(float(fields["expires_at"])) if fields.get("expires_at") else None,
    )


class FileStore:
    def __init__(self, redis: Redis, root: Path) -> None:
        self.redis = redis
        self.root = root

    def path(self, file_id: str) -> Path:
        return self.root / f"{file_id}.jsonl"

    async def save_upload(
        self, team: str, filename: str, purpose: str, chunks: AsyncIterator[bytes], max_bytes: int
    ) -> FileObject:
        """Stream an upload to disk, then record it; nothing is recorded if it is too big."""
        if purpose not in UPLOAD_PURPOSES:
            raise InvalidRequest(f"purpose: only {', '.join(UPLOAD_PURPOSES)} files can be uploaded", param="purpose")
        file_id = new_file_id()
        final = self.path(file_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_suffix(".part")
        size = 0
        try:
            with tmp.open("wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise InvalidRequest(f"file: larger than the {max_bytes}-byte limit", param="file")
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return await self.record(file_id, team, filename, purpose, size)

    async def write_produced(self, file_id: str, team: str, filename: str, lines: list[str]) -> FileObject:
        """A file the broker made (a batch's output or errors); rewriting the same id is harmless."""
        final = self.path(file_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_suffix(".part")
        data = "".join(line + "\n" for line in lines).encode()
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(final)
        return await self.record(file_id, team, filename, "batch_output", len(data))

    async def record(self, file_id: str, team: str, filename: str, purpose: str, size: int) -> FileObject:
        now = time.time()
        fields: dict[str, Any] = {
            "id": file_id,
            "team": team,
            "filename": filename,
            "purpose": purpose,
            "bytes": size,
            "created_at": now,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.file(file_id), mapping=dict[Any, Any](fields))
            pipe.zadd(keys.team_files(team), {file_id: now})
            await pipe.execute()
        return file_object({k: str(v) for k, v in fields.items()})

    async def fields(self, file_id: str, team: str) -> dict[str, str]:
        fields = decode_hash(await self.redis.hgetall(keys.file(file_id)))
        if not fields or fields.get("team") != team:
            raise NotFound(f"no file {file_id!r}", param="file_id")
        return fields

    async def get(self, file_id: str, team: str) -> FileObject:
        return file_object(await self.fields(file_id, team))

    async def content_path(self, file_id: str, team: str) -> Path:
        await self.fields(file_id, team)
        path = self.path(file_id)
        if not path.exists():
            raise NotFound(f"the content of file {file_id!r} is gone", param="file_id")
        return path

    async def list(self, team: str, purpose: str | None = None, limit: int = 10_000) -> list[FileObject]:
        ids = as_texts(await self.redis.zrevrange(keys.team_files(team), 0, limit - 1))
        async with self.redis.pipeline(transaction=False) as pipe:
            for file_id in ids:
                pipe.hgetall(keys.file(file_id))
            rows = await pipe.execute()
        out = [file_object(decode_hash(row)) for row in rows if row]
        return [f for f in out if purpose is None or f.purpose == purpose]

    async def delete(self, file_id: str, team: str) -> None:
        await self.fields(file_id, team)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.file(file_id))
            pipe.zrem(keys.team_files(team), file_id)
            await pipe.execute()
        self.path(file_id).unlink(missing_ok=True)
