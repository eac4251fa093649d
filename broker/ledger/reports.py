"""Reports over the ledger: spend by any grouping, totals, showback/chargeback per team,
daily series for the dashboard, and the spend the budget reconciliation compares with.

Every figure is one SQL aggregate over the ``usage`` view, so the CLI, the dashboard and
the reconciliation cannot disagree.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from broker.ledger.layout import StreamId
from broker.ledger.storage import LedgerStorage
from broker.ledger.views import with_ledger

GROUPABLE = {
    "team": "team",
    "feature": "feature",
    "model": "model",
    "provider": "provider",
    "user": '"user"',
    "key_id": "key_id",
    "month": "month",
    "tier": "tier",
    "state": "state",
    "day": "strftime(to_timestamp(finished_at), '%Y-%m-%d')",
}
MEASURES = {
    "jobs": "count(*)",
    "failures": "count(*) FILTER (WHERE state = 'failed')",
    "cache_hits": "count(*) FILTER (WHERE cache_hit)",
    "input_tokens": "coalesce(sum(input_tokens), 0)",
    "output_tokens": "coalesce(sum(output_tokens), 0)",
    "cached_tokens": "coalesce(sum(cached_tokens), 0)",
    "cost_usd": "round(coalesce(sum(cost_usd), 0), 9)",
    "cache_saved_usd": "round(coalesce(sum(saved_usd), 0), 9)",
    "routing_saved_usd": "round(coalesce(sum(routing_saved_usd), 0), 9)",
    "p50_latency_ms": "round(quantile_cont(latency_ms, 0.5), 3)",
    "p95_latency_ms": "round(quantile_cont(latency_ms, 0.95), 3)",
}
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ReportError(ValueError):
    """A report asked for something the ledger cannot answer (names the option at fault)."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


def check_month(month: str | None) -> list[str] | None:
    if month is None:
        return None
    if not _MONTH.match(month):
        raise ReportError(f"month: {month!r} is not YYYY-MM", "--month")
    return [month]


def check_grouping(by: list[str]) -> list[str]:
    unknown = [column for column in by if column not in GROUPABLE]
    if unknown:
        raise ReportError(f"by: cannot group by {', '.join(unknown)}; choose from {', '.join(GROUPABLE)}", "--by")
    return by


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _measures() -> str:
    return ", ".join(f"{sql} AS {name}" for name, sql in MEASURES.items())


def spend_report(
    location: LedgerStorage | str, by: list[str], month: str | None = None, team: str | None = None
) -> list[dict[str, Any]]:
    """One row per group: jobs, failures, cache hits, tokens, cost, savings, p50/p95 latency."""
    storage = _storage(location)
    check_grouping(by)
    months = check_month(month)
    keys = ", ".join(f"{GROUPABLE[c]} AS {c}" for c in by)
    where, params = _where(month, team)
    group = f"GROUP BY ALL ORDER BY {', '.join(by)}" if by else ""
    sql = f"SELECT {keys + ', ' if keys else ''}{_measures()} FROM usage {where} {group}"
    return with_ledger(storage, months, lambda con: _fetch(con, sql, params))


def totals(location: LedgerStorage | str, month: str | None = None, team: str | None = None) -> dict[str, Any]:
    """The whole month (or ledger) in one row."""
    return spend_report(location, [], month, team)[0]


def chargeback(location: LedgerStorage | str, month: str) -> dict[str, list[dict[str, Any]]]:
    """Showback/chargeback lines per team: one per feature and model, as finance books them."""
    rows = spend_report(location, ["team", "feature", "model"], month)
    teams: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        teams.setdefault(row["team"], []).append(row)
    return teams


def ledger_spend(
    location: LedgerStorage | str, month: str, upto: StreamId | None = None
) -> dict[tuple[str, str | None], float]:
    """Spend per team and per team and feature in a month, counting only rows whose stream
    id is at most ``upto`` (what the budget counters had counted at that id)."""
    storage = _storage(location)
    where, params = _where(month, None)
    if upto is not None:
        where += " AND (stream_ms < ? OR (stream_ms = ? AND stream_seq <= ?))"
        params += [upto[0], upto[0], upto[1]]
    sql = f"""SELECT team, feature, sum(cost_usd) AS usd FROM usage {where}
              GROUP BY GROUPING SETS ((team), (team, feature))"""
    rows = with_ledger(storage, [month], lambda con: con.execute(sql, params).fetchall())
    return {(team, feature): float(usd or 0) for team, feature, usd in rows}


def daily_series(location: LedgerStorage | str, month: str, by: str) -> list[dict[str, Any]]:
    """Cost per day and ``by`` (team or model) over a month, for the dashboard."""
    return spend_report(location, ["day", check_grouping([by])[0]], month)


def _where(month: str | None, team: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if month:
        clauses.append("month = ?")
        params.append(month)
    if team:
        clauses.append("team = ?")
        params.append(team)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _storage(location: LedgerStorage | str) -> LedgerStorage:
    return location if isinstance(location, LedgerStorage) else LedgerStorage(location)
