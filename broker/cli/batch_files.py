"""``llm-broker submit`` and ``results``: JSONL files through the Batch API path.

``submit`` stores the file as a batch input (lines that are plain job requests are wrapped
as ``{custom_id: "line-N", method, url, body}``), creates the batch (the same code as
``POST /v1/batches``) and watches it, showing lines done, failed and queued, tokens and cost
so far. Submitting the same content again for the same team resumes watching the batch it
created instead of running it twice (``--new`` forces a new batch), so an interrupted
``submit`` is simply run again; ``batches watch ID`` does the same by id.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from broker.auth import Principal
from broker.batches.files import FileStore
from broker.batches.finalize import batch_jobs
from broker.batches.service import create_batch
from broker.batches.store import BatchStore
from broker.settings import home_dir
from schemas.batch import CHAT_ENDPOINT, BatchCreate, BatchObject
from schemas.config import BrokerConfig

console = Console(stderr=True)


def as_batch_lines(text: str) -> str:
    """Batch input lines as they are; plain job requests wrapped, numbered by their line."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            out.append(line)
            continue
        try:
            data = json.loads(line)
        except ValueError:
            out.append(line)  # the batch names it as invalid JSON, by its line
            continue
        if isinstance(data, dict) and ("custom_id" in data or "body" in data):
            out.append(line)
        else:
            wrapped = {"custom_id": f"line-{number}", "method": "POST", "url": CHAT_ENDPOINT, "body": data}
            out.append(json.dumps(wrapped))
    return "\n".join(out) + "\n"


async def _chunks(data: bytes) -> Any:
    yield data


def summary(batch: BatchObject, fields: dict[str, str]) -> dict[str, Any]:
    progress = batch.progress
    assert progress is not None
    return {
        "batch_id": batch.id,
        "status": batch.status.value,
        "submitted": progress.queued + progress.succeeded + progress.failed + progress.cancelled,
        "rejected": progress.invalid,
        "succeeded": progress.succeeded,
        "failed": progress.failed + progress.cancelled,
        "queued": progress.queued,
        "input_tokens": batch.usage.input_tokens if batch.usage else 0,
        "output_tokens": batch.usage.output_tokens if batch.usage else 0,
        "cost_usd": progress.cost_usd,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
        "job_ids": [job_id for _, job_id in batch_jobs(fields)],
    }


async def submit_file(
    config: BrokerConfig,
    redis: Redis,
    path: Path,
    team: str,
    window: str,
    metadata: dict[str, str],
    new: bool,
) -> tuple[BatchObject, bool]:
    files = FileStore(redis, home_dir() / "files")
    principal = Principal(team=team, user="cli", key_id="cli")
    content = as_batch_lines(path.read_text()).encode()
    stored = await files.save_upload(team, path.name, "batch", _chunks(content), config.batches.max_file_bytes)
    body = BatchCreate(
        input_file_id=stored.id,
        endpoint=CHAT_ENDPOINT,
        completion_window=window,
        metadata=metadata or None,
    )
    batch, created = await create_batch(body, principal, config, redis, files, resume=not new)
    if not created:
        await files.delete(stored.id, team)  # the batch being resumed has its own copy
    for error in batch.errors.data if batch.errors else []:
        console.print(f"[red]{error.message}[/red]")
    return batch, created


async def watch(redis: Redis, batch_id: str, team: str, poll_s: float = 0.5) -> BatchObject:
    """Progress until the batch ends; Ctrl-C stops watching, never the batch."""
    store = BatchStore(redis)
    batch = await store.get(batch_id, team)
    with Progress(
        TextColumn("[bold]{task.fields[status]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("batch", total=batch.request_counts.total, status=batch.status.value, detail="")
        while True:
            batch = await store.get(batch_id, team)
            p = batch.progress
            assert p is not None
            tokens = f"{batch.usage.input_tokens:,} in / {batch.usage.output_tokens:,} out" if batch.usage else ""
            detail = (
                f"ok {p.succeeded} failed {p.failed + p.cancelled + p.invalid} queued {p.queued}"
                f" · {tokens} tokens · ${p.cost_usd:.4f}"
            )
            done = p.succeeded + p.failed + p.cancelled + p.invalid
            progress.update(
                task, total=batch.request_counts.total, completed=done, status=batch.status.value, detail=detail
            )
            if batch.status.final:
                return batch
            await asyncio.sleep(poll_s)


async def write_results(
    redis: Redis, batch_id: str, team: str | None, output: Path, errors: Path | None, wait: bool
) -> BatchObject:
    store = BatchStore(redis)
    fields = await store.raw(batch_id)
    if not fields or (team is not None and fields["team"] != team):
        raise LookupError(f"no batch {batch_id}")
    batch = await watch(redis, batch_id, fields["team"]) if wait else await store.view(fields)
    if not batch.status.final:
        raise RuntimeError(f"batch {batch_id} is {batch.status.value}; use --wait to wait for it")
    files = FileStore(redis, home_dir() / "files")
    for file_id, target in ((batch.output_file_id, output), (batch.error_file_id, errors)):
        if target is None:
            continue
        if file_id:
            target.write_bytes((await files.content_path(file_id, fields["team"])).read_bytes())
        else:
            target.write_text("")
    return batch


def wait_hint(batch_id: str) -> str:
    return f"stopped watching; batch {batch_id} goes on. Resume with: llm-broker batches watch {batch_id}"
