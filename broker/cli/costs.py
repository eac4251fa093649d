"""Cost commands: spend reports, chargeback statements, budgets, the ledger's upkeep, and
the ``monitor`` process (budget sweeps, alert delivery, reconciliation)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from broker.cli.running import setup_logging, stop_on_signals
from broker.settings import current_config

budgets_app = typer.Typer(no_args_is_help=True, help="Monthly budgets: spend against budget, raise a budget.")
ledger_app = typer.Typer(no_args_is_help=True, help="The Parquet usage ledger: compact, check, reconcile.")

LedgerOpt = Annotated[
    str | None, typer.Option("--ledger", help="ledger folder or URL (default: the config's ledger.location)")
]
MonthOpt = Annotated[str | None, typer.Option(help="YYYY-MM (default: every month for reports)")]


def _storage(ledger: str | None):  # noqa: ANN202 - lazy import keeps `--help` fast
    from broker.ledger import LedgerStorage, open_ledger

    return LedgerStorage(ledger) if ledger else open_ledger(current_config())


def report(
    by: Annotated[
        str, typer.Option(help="comma-separated: team, feature, model, provider, user, key_id, month, tier, state, day")
    ] = "team,model",
    month: MonthOpt = None,
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    ledger: LedgerOpt = None,
) -> None:
    """Spend by any grouping from the ledger: jobs, failures, cache hits, tokens in/out, cost,
    cache and routing savings, p50/p95 latency; with totals."""
    from broker.ledger.render import columns_of, to_csv, to_json, to_table
    from broker.ledger.reports import ReportError, spend_report, totals

    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter("choose table, csv or json", param_hint="--format")
    columns = [c.strip() for c in by.split(",") if c.strip()]
    storage = _storage(ledger)
    try:
        rows = spend_report(storage, columns, month, team)
        total = totals(storage, month, team)
    except ReportError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from exc
    if fmt == "json":
        typer.echo(to_json(rows, columns, month, total))
    elif fmt == "csv":
        typer.echo(to_csv(rows, columns_of(rows, columns)), nl=False)
    else:
        title = f"spend{' in ' + month if month else ''}{' of ' + team if team else ''}"
        Console(width=220).print(to_table(rows, columns, title, total))


def chargeback(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    out: Annotated[Path, typer.Option(help="folder for one CSV per team")] = Path("."),
    team: Annotated[str | None, typer.Option(help="only this team")] = None,
    ledger: LedgerOpt = None,
) -> None:
    """Write a showback/chargeback CSV per team (a line per feature and model, and a total)."""
    from broker.ledger.render import chargeback_csv
    from broker.ledger.reports import ReportError
    from broker.ledger.reports import chargeback as chargeback_lines

    try:
        teams = chargeback_lines(_storage(ledger), month)
    except ReportError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from exc
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in sorted(teams.items()):
        if team and name != team:
            continue
        path = out / f"chargeback-{month}-{name}.csv"
        path.write_text(chargeback_csv(month, name, rows))
        typer.echo(f"{path}  ${sum(r['cost_usd'] for r in rows):,.2f}")


@budgets_app.command("show")
def budgets_show(fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """Real-time spend against every budget this month, and what happens to the next job."""
    from rich.table import Table

    from broker.budgets.counters import month_of
    from broker.budgets.store import BudgetStore, state_payload
    from broker.redis_clients import async_client

    config = current_config()

    async def states() -> list[dict[str, object]]:
        redis = async_client(config)
        try:
            now = time.time()
            return [state_payload(s, month_of(now), now) for s in await BudgetStore(redis, config).all_states(now)]
        finally:
            await redis.aclose()

    rows = asyncio.run(states())
    if fmt == "json":
        typer.echo(json.dumps(rows))
        return
    table = Table(title="budgets this month")
    for column in ("team", "feature", "spend $", "budget $", "used", "policy", "next job"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["team"]),
            str(row["feature"] or "-"),
            f"{row['spend_usd']:,.2f}",
            f"{row['budget_usd']:,.2f}",
            f"{row['fraction']:.0%}",
            str(row["policy"]),
            str(row["action"]),
        )
    Console().print(table)


@budgets_app.command("set")
def budgets_set(
    team: Annotated[str, typer.Option(help="team whose budget changes")],
    usd: Annotated[float, typer.Option(help="the month's budget in US dollars")],
    feature: Annotated[str | None, typer.Option(help="a feature of the team instead of the whole team")] = None,
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month)")] = None,
) -> None:
    """Set (raise) a budget for this month; takes effect at once and overrides the config."""
    from broker.budgets.store import BudgetStore
    from broker.redis_clients import async_client

    config = current_config()
    if team not in config.teams:
        raise typer.BadParameter(f"unknown team {team!r}; configured: {', '.join(config.teams)}", param_hint="--team")
    if usd <= 0:
        raise typer.BadParameter("a budget must be more than 0", param_hint="--usd")

    async def apply() -> None:
        redis = async_client(config)
        try:
            await BudgetStore(redis, config).set_budget(team, usd, feature, month)
        finally:
            await redis.aclose()

    asyncio.run(apply())
    typer.echo(f"budget of {team}{'/' + feature if feature else ''} set to ${usd:,.2f}")


@ledger_app.command("compact")
def ledger_compact(ledger: LedgerOpt = None) -> None:
    """Merge small ledger files now (the sink also does it every ``compact_interval_s``)."""
    from broker.redis_clients import sync_client
    from workers.ledger_compaction import compact_ledger

    config = current_config()
    typer.echo(f"merged {compact_ledger(_storage(ledger), sync_client(config), config.ledger)} files")


@ledger_app.command("check")
def ledger_check(month: MonthOpt = None, ledger: LedgerOpt = None) -> None:
    """Count files, rows and duplicate (job id, attempt) rows; exit 1 if any duplicate."""
    from broker.ledger.views import duplicates

    files, rows, repeated = duplicates(_storage(ledger), [month] if month else None)
    typer.echo(json.dumps({"files": files, "rows": rows, "duplicates": repeated}))
    if repeated:
        raise typer.Exit(1)


@ledger_app.command("reconcile")
def ledger_reconcile(month: MonthOpt = None, ledger: LedgerOpt = None) -> None:
    """Compare the real-time spend counters with the ledger now; prints the drift per scope."""
    from broker.budgets.counters import month_of
    from broker.redis_clients import async_client
    from workers.reconcile import reconcile

    config = current_config()

    async def run() -> list[dict[str, object]]:
        redis = async_client(config)
        try:
            return await reconcile(redis, _storage(ledger), month or month_of(time.time()))
        finally:
            await redis.aclose()

    typer.echo(json.dumps(asyncio.run(run())))


def monitor() -> None:
    """Budget upkeep: deliver alerts (signed webhooks), sweep thresholds, reconcile the
    spend counters with the ledger. Run one (or more: every step is idempotent)."""

    from workers.monitor import run_monitor

    setup_logging()
    config = current_config()

    async def main() -> None:
        stop = stop_on_signals()
        await run_monitor(config, _storage(None), stop)

    asyncio.run(main())


def register(app: typer.Typer) -> None:
    app.add_typer(budgets_app, name="budgets")
    app.add_typer(ledger_app, name="ledger")
    for command in (report, chargeback, monitor):
        app.command()(command)
