"""Operator commands: keys, submitting a JSONL file, job status, spend reports."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from broker.settings import current_config, home_dir

keys_app = typer.Typer(no_args_is_help=True, help="Manage API keys (only their SHA-256 is stored).")


@keys_app.command("create")
def keys_create(
    team: Annotated[str, typer.Option(help="team the key bills to")],
    user: Annotated[str, typer.Option(help="user recorded on the key's jobs")] = "default",
    admin: Annotated[bool, typer.Option(help="may read dashboards and administer")] = False,
) -> None:
    """Create an API key and print it once."""
    from broker.auth import create_api_key
    from broker.redis_clients import sync_client

    config = current_config()
    if team not in config.teams:
        raise typer.BadParameter(f"unknown team {team!r}; configured: {', '.join(config.teams)}", param_hint="--team")
    api_key, principal = create_api_key(sync_client(config), team, user, admin)
    typer.echo(api_key)
    typer.echo(f"key id {principal.key_id} for team {team} (store it now: it is not shown again)", err=True)


def status(job_id: Annotated[str, typer.Argument()]) -> None:
    """Print a job's state, attempts, result and usage as JSON."""
    from broker import keys
    from broker.jobstore.records import decode_hash, job_view
    from broker.redis_clients import sync_client

    fields = decode_hash(sync_client(current_config()).hgetall(keys.job(job_id)))
    if not fields:
        typer.echo(f"no job {job_id}", err=True)
        raise typer.Exit(1)
    typer.echo(job_view(fields).model_dump_json(indent=2))


def report(
    by: Annotated[str, typer.Option(help="comma-separated: team, feature, model, provider, user, key_id, month")] = (
        "team,model"
    ),
    month: Annotated[str | None, typer.Option(help="YYYY-MM; default all months")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    ledger: Annotated[Path | None, typer.Option(help="ledger folder (default $home/ledger)")] = None,
) -> None:
    """Spend by team and model (or any grouping) from the usage ledger, with DuckDB."""
    from broker.ledger import spend_report

    try:
        rows = spend_report(ledger or home_dir() / "ledger", [c.strip() for c in by.split(",") if c.strip()], month)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--by") from exc
    if fmt == "json":
        typer.echo(json.dumps(rows))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else by.split(","))
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table(title=f"spend{' in ' + month if month else ''}")
        columns = list(rows[0]) if rows else by.split(",")
        for column in columns:
            table.add_column(column, justify="right" if column not in by else "left")
        for row in rows:
            table.add_row(*(f"{v:.6f}" if isinstance(v, float) else str(v) for v in row.values()))
        if rows:
            total = sum(r["cost_usd"] for r in rows)
            table.caption = f"total ${total:.6f} over {sum(r['jobs'] for r in rows)} jobs"
        Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    for command in (status, report):
        app.command()(command)
