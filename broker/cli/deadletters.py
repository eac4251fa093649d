"""``llm-broker dead-letters list|retry``: failed jobs, straight from the broker's Redis."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from broker.settings import current_config

app = typer.Typer(no_args_is_help=True, help="Failed jobs: list them, send them round again.")


async def _list(team: str | None, limit: int) -> list[dict[str, object]]:
    from broker.deadletters.store import DeadLetters
    from broker.redis_clients import async_client

    config = current_config()
    redis = async_client(config)
    try:
        teams = [team] if team else sorted(config.teams)
        return [d.as_dict() for d in await DeadLetters(redis, config).newest(teams, limit)]
    finally:
        await redis.aclose()


async def _retry(job_id: str) -> str:
    from broker.deadletters.store import DeadLetters
    from broker.redis_clients import async_client

    config = current_config()
    redis = async_client(config)
    try:
        return await DeadLetters(redis, config).retry(job_id, sorted(config.teams))
    finally:
        await redis.aclose()


@app.command("list")
def list_command(
    team: Annotated[str | None, typer.Option(help="one team (default: every team)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Failed jobs, newest first, with why they failed."""
    letters = asyncio.run(_list(team, limit))
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(letter))
        return
    table = Table(title=f"dead letters ({len(letters)})")
    for column in ("job", "team", "failed", "attempts", "last model", "error"):
        table.add_column(column)
    for d in letters:
        failed = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(d["failed_at"])))  # type: ignore[arg-type]
        table.add_row(
            str(d["job_id"]), str(d["team"]), failed, str(d["attempts"]), str(d["last_model"]), str(d["error"])[:120]
        )
    Console().print(table)


@app.command("retry")
def retry_command(job_ids: Annotated[list[str], typer.Argument(help="job ids from `dead-letters list`")]) -> None:
    """Send failed jobs (same ids) back through admission with fresh candidate chains."""
    from broker.errors import BrokerError

    failed = 0
    for job_id in job_ids:
        try:
            team = asyncio.run(_retry(job_id))
        except BrokerError as exc:
            typer.echo(f"{job_id}: {exc.message}", err=True)
            failed += 1
            continue
        typer.echo(f"{job_id}: requeued for team {team}")
    if failed:
        raise typer.Exit(1)


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="dead-letters")
