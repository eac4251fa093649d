"""Operator commands: keys and job status (submitting files: ``batches``; spend reports: ``costs``)."""

from __future__ import annotations

from typing import Annotated

import typer

from broker.settings import current_config

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


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    for command in (status,):
        app.command()(command)
