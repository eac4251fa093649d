"""``llm-broker prompts``: the prompt registry from the command line (operator path).

Like ``submit``, these commands go straight to the broker's Redis and act for the team
given by ``--team``; ``report`` reads the Parquet ledger and feedback table with DuckDB.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from broker.settings import current_config, home_dir

app = typer.Typer(no_args_is_help=True, help="Versioned prompt templates, experiments and version reports.")
Team = Annotated[str, typer.Option(help="team that owns (or is shared) the template")]
T = TypeVar("T")


def run(action: Callable[[Any], Awaitable[T]]) -> T:
    """Run one registry action on a fresh connection; broker errors end the command with code 1."""
    from broker.errors import BrokerError
    from broker.prompts.registry import PromptRegistry
    from broker.redis_clients import async_client

    async def go() -> T:
        redis = async_client(current_config())
        try:
            return await action(PromptRegistry(redis))
        finally:
            await redis.aclose()

    try:
        return asyncio.run(go())
    except BrokerError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command()
def publish(
    template_id: Annotated[str, typer.Argument(help="template name, e.g. summarize")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON: messages, variables...")],
    team: Team,
    author: Annotated[str, typer.Option(help="recorded on the version")] = "cli",
) -> None:
    """Publish the next version of a template from a file."""
    from schemas.prompts import TemplateDraft

    try:
        draft = TemplateDraft.model_validate(yaml.safe_load(file.read_text()))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise typer.BadParameter(f"{where}: {first['msg']}", param_hint="FILE") from exc
    version = run(lambda reg: reg.publish(team, author, template_id, draft, current_config()))
    typer.echo(f"published {version.template_id} v{version.version}")


@app.command("list")
def list_templates(team: Team) -> None:
    """Templates the team owns and those shared with it."""
    views = run(lambda reg: reg.listing(team))
    table = Table(title=f"prompt templates for {team}")
    for column in ("id", "latest", "live versions", "split", "shared with"):
        table.add_column(column)
    for view in views:
        live = ",".join(str(v.version) for v in view.versions if not v.retired)
        split = " ".join(f"v{v}={p:g}%" for v, p in (view.split or {}).items())
        table.add_row(view.id, str(view.latest), live, split or "-", ",".join(view.shared_with) or "-")
    Console().print(table)


@app.command()
def show(
    template_id: Annotated[str, typer.Argument(help="name, or owner/name for a shared template")],
    team: Team,
    version: Annotated[int | None, typer.Option(help="show this version's content")] = None,
) -> None:
    """A template's versions, split and sharing; or one version's content."""
    from broker.prompts.compose import describe

    async def action(reg: Any) -> Any:
        ref, meta = await reg.visible(team, template_id)
        return await (reg.version(ref, meta, version) if version else reg.view(ref, meta))

    found = run(action)
    if version:
        typer.echo(f"{found.template_id} v{found.version} by {found.author}{' (retired)' if found.retired else ''}")
        typer.echo(f"note: {found.note}" if found.note else "note: -")
        typer.echo("\n".join(describe(found)))
    else:
        echo_json(found.model_dump())


@app.command()
def diff(
    template_id: Annotated[str, typer.Argument()],
    old: Annotated[int, typer.Argument(help="from version")],
    new: Annotated[int, typer.Argument(help="to version")],
    team: Team,
) -> None:
    """Unified diff of messages, variables, model and parameters between two versions."""
    from broker.prompts.compose import version_diff

    async def action(reg: Any) -> str:
        ref, meta = await reg.visible(team, template_id)
        return version_diff(await reg.version(ref, meta, old), await reg.version(ref, meta, new))

    typer.echo(run(action))


@app.command()
def retire(
    template_id: Annotated[str, typer.Argument()], version: Annotated[int, typer.Argument()], team: Team
) -> None:
    """Stop a version from taking new jobs."""
    run(lambda reg: reg.retire(team, template_id, version))
    typer.echo(f"retired {team}/{template_id} v{version}")


@app.command()
def split(
    template_id: Annotated[str, typer.Argument()],
    team: Team,
    weights: Annotated[list[str] | None, typer.Argument(help="VERSION=PERCENT ..., e.g. 3=90 4=10")] = None,
    clear: Annotated[bool, typer.Option(help="end the experiment")] = False,
) -> None:
    """Start, change or end an experiment (subjects keep their version where the split allows)."""
    from schemas.prompts import SplitRequest

    if clear:
        run(lambda reg: reg.clear_split(team, template_id))
        typer.echo(f"no split on {team}/{template_id}: jobs get the latest version")
        return
    try:
        pairs = dict(item.split("=", 1) for item in weights or [])
        request = SplitRequest(weights={int(v): float(p) for v, p in pairs.items()})
    except (ValueError, ValidationError) as exc:
        raise typer.BadParameter(f"give VERSION=PERCENT pairs adding to 100 ({exc})", param_hint="WEIGHTS") from exc
    run(lambda reg: reg.set_split(team, template_id, request))
    typer.echo(f"split {team}/{template_id}: " + " ".join(f"v{v}={p:g}%" for v, p in request.weights.items()))


@app.command()
def share(
    template_id: Annotated[str, typer.Argument()],
    team: Team,
    with_: Annotated[list[str] | None, typer.Option("--with", help="team to share with (repeat); none: nobody")] = None,
) -> None:
    """Replace the teams that may read and use the template."""
    teams = run(lambda reg: reg.share(team, template_id, with_ or [], current_config()))
    typer.echo(f"{team}/{template_id} shared with: {', '.join(teams) or 'nobody'}")


@app.command()
def report(
    template_id: Annotated[str, typer.Argument(help="name (with --team) or owner/name")],
    team: Annotated[str | None, typer.Option(help="owning team, unless the id says owner/name")] = None,
    baseline: Annotated[int | None, typer.Option(help="version the others are compared with")] = None,
    level: Annotated[float, typer.Option(help="confidence level of the score interval")] = 0.95,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    ledger: Annotated[str | None, typer.Option(help="ledger location (default: the config's)")] = None,
    feedback: Annotated[Path | None, typer.Option(help="feedback folder (default $home/feedback)")] = None,
) -> None:
    """Compare versions: jobs, tokens, cost, latency, cache hits, failures and mean score (with a
    confidence interval for each version's score difference from the baseline)."""
    from broker.ledger import ledger_location
    from broker.prompts.report import prompt_report

    if "/" not in template_id and not team:
        raise typer.BadParameter("give --team or an owner/name id", param_hint="--team")
    qualified = template_id if "/" in template_id else f"{team}/{template_id}"
    home = home_dir()
    location = ledger or ledger_location(current_config())
    result = prompt_report(location, feedback or home / "feedback", qualified, baseline, level)
    if fmt == "json":
        typer.echo(result.model_dump_json(indent=2))
        return
    caption = f"score diff vs v{result.baseline}: {level:.0%} confidence interval (Welch's t)"
    table = Table(title=f"{qualified}: versions", caption=caption)
    columns = ("version", "jobs", "failed", "tokens in/out", "cost $", "$/job", "latency ms", "cache hit", "score")
    for column in (*columns, "score diff [CI]"):
        table.add_column(column, justify="right")
    for row in result.versions:
        score = f"{row.mean_score:.3f} (n={row.scored})" if row.mean_score is not None else "-"
        diff = (
            f"{row.score_diff:+.3f} [{row.score_diff_low:+.3f}, {row.score_diff_high:+.3f}]"
            if row.score_diff is not None
            else "-"
        )
        table.add_row(
            f"v{row.version}",
            str(row.jobs),
            f"{row.failure_rate:.1%}",
            f"{row.input_tokens}/{row.output_tokens}",
            f"{row.cost_usd:.6f}",
            f"{row.cost_per_job_usd:.6f}",
            f"{row.mean_latency_ms:.0f}" if row.mean_latency_ms is not None else "-",
            f"{row.cache_hit_rate:.1%}",
            score,
            diff,
        )
    Console().print(table)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="prompts")
