"""Batch commands: ``submit FILE.jsonl`` (the batch path, with progress and resume),
``results BATCH_ID -o out.jsonl``, and ``batches watch|cancel|list``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from broker.cli.running import setup_logging, stop_on_signals
from broker.settings import current_config

T = TypeVar("T")

batches_app = typer.Typer(no_args_is_help=True, help="Batches made with `submit` or the Batch API.")


def _redis() -> Any:
    from broker.redis_clients import async_client

    return async_client(current_config())


def _on_batch(batch_id: str, action: Callable[[Any, str], Awaitable[T]]) -> T:
    """Run ``action(redis, team)`` on an existing batch (its team read from Redis). An
    unknown batch id, or an action the batch's state refuses, exits 1 saying why."""
    from broker.batches.store import BatchStore
    from broker.errors import BrokerError

    async def main() -> T:
        redis = _redis()
        try:
            fields = await BatchStore(redis).raw(batch_id)
            if not fields:
                raise LookupError(f"no batch {batch_id}")
            return await action(redis, fields["team"])
        finally:
            await redis.aclose()

    try:
        return asyncio.run(main())
    except (LookupError, BrokerError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL: batch lines or job requests")],
    team: Annotated[str, typer.Option(help="team the jobs bill to")],
    wait: Annotated[bool, typer.Option(help="watch the batch to its end, with progress")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the output file here")] = None,
    errors: Annotated[Path | None, typer.Option("--errors", help="write the error file here")] = None,
    feature: Annotated[str | None, typer.Option(help="metadata.feature for the ledger")] = None,
    window: Annotated[str, typer.Option("--completion-window", help="e.g. 24h, 90m")] = "24h",
    new: Annotated[bool, typer.Option("--new", help="a new batch even if this file was submitted before")] = False,
) -> None:
    """Submit a JSONL file as a batch (resumes watching if the same file was submitted before)."""
    from broker.batches.store import BatchStore
    from broker.cli.batch_files import console, submit_file, summary, wait_hint, watch, write_results

    config = current_config()
    if team not in config.teams:
        raise typer.BadParameter(f"unknown team {team!r}; configured: {', '.join(config.teams)}", param_hint="--team")

    async def main() -> dict[str, Any]:
        redis = _redis()
        try:
            batch, created = await submit_file(
                config, redis, file, team, window, {"feature": feature} if feature else {}, new
            )
            console.print(f"{'created' if created else 'resuming'} batch {batch.id} ({batch.status.value})")
            if wait or output or errors:
                watching.append(batch.id)
                batch = await watch(redis, batch.id, team)
                if output or errors:
                    await write_results(redis, batch.id, team, output or Path("/dev/null"), errors, wait=False)
            return summary(batch, await BatchStore(redis).raw(batch.id))
        finally:
            await redis.aclose()

    watching: list[str] = []
    try:
        result = asyncio.run(main())
    except KeyboardInterrupt:
        if watching:
            console.print(wait_hint(watching[0]))
        raise typer.Exit(130) from None
    typer.echo(json.dumps(result))
    if result["rejected"] or (result["status"] != "in_progress" and result["failed"]) or result["status"] == "failed":
        raise typer.Exit(1)


def results(
    batch_id: Annotated[str, typer.Argument()],
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write the output file")],
    errors: Annotated[Path | None, typer.Option("--errors", help="where to write the error file")] = None,
    wait: Annotated[bool, typer.Option(help="wait for the batch to end first")] = False,
) -> None:
    """Write a finished batch's output (and error) file."""
    from broker.cli.batch_files import write_results

    async def main() -> Any:
        redis = _redis()
        try:
            return await write_results(redis, batch_id, None, output, errors, wait)
        finally:
            await redis.aclose()

    try:
        batch = asyncio.run(main())
    except (LookupError, RuntimeError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    counts = batch.request_counts
    typer.echo(json.dumps({"batch_id": batch.id, "status": batch.status.value, **counts.model_dump()}))


@batches_app.command("watch")
def watch_batch(batch_id: Annotated[str, typer.Argument()]) -> None:
    """Show a batch's progress until it ends (Ctrl-C stops watching, not the batch)."""
    from broker.cli.batch_files import watch

    batch = _on_batch(batch_id, lambda redis, team: watch(redis, batch_id, team))
    typer.echo(batch.model_dump_json())


@batches_app.command("cancel")
def cancel_batch(batch_id: Annotated[str, typer.Argument()]) -> None:
    """Cancel a batch: lines not started end cancelled; it ends `cancelled` once running ones finish."""
    from broker.batches.service import cancel_batch as cancel

    batch = _on_batch(batch_id, lambda redis, team: cancel(batch_id, team, redis))
    typer.echo(batch.model_dump_json())


@batches_app.command("list")
def list_batches(team: Annotated[str, typer.Option()], limit: Annotated[int, typer.Option()] = 20) -> None:
    """A team's batches, newest first."""
    from broker.batches.store import BatchStore

    async def main() -> Any:
        redis = _redis()
        try:
            return (await BatchStore(redis).list(team, None, limit))[0]
        finally:
            await redis.aclose()

    for batch in asyncio.run(main()):
        counts = batch.request_counts
        typer.echo(f"{batch.id}  {batch.status.value:<11} {counts.completed}/{counts.total} ok, {counts.failed} failed")


def webhook_worker() -> None:
    """Deliver signed webhooks (per job and per batch), retrying for up to a day."""
    from broker.settings import home_dir
    from workers.webhooks.delivery import WebhookWorker

    setup_logging()
    config = current_config()

    async def main() -> None:
        stop = stop_on_signals()
        redis = _redis()
        try:
            await WebhookWorker(redis, config, home_dir()).run(stop)
        finally:
            await redis.aclose()

    asyncio.run(main())


def register(app: typer.Typer) -> None:
    app.add_typer(batches_app, name="batches")
    app.command()(submit)
    app.command()(results)
    app.command("webhook-worker")(webhook_worker)
