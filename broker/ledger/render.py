"""Reports as people and programs read them: a terminal table, CSV, JSON. Pure."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.table import Table

from broker.ledger.reports import MEASURES

MONEY = ("cost_usd", "cache_saved_usd", "routing_saved_usd")


def columns_of(rows: list[dict[str, Any]], by: list[str]) -> list[str]:
    return list(rows[0]) if rows else [*by, *MEASURES]


def cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column in MONEY:
        return f"{value:,.6f}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def to_table(rows: list[dict[str, Any]], by: list[str], title: str, total: dict[str, Any] | None = None) -> Table:
    table = Table(title=title, show_footer=total is not None)
    for column in columns_of(rows, by):
        footer = ""
        if total is not None:
            footer = "total" if column == (by[0] if by else "") else cell(column, total.get(column))
        table.add_column(column, justify="left" if column in by else "right", footer=footer)
    for row in rows:
        table.add_row(*(cell(c, v) for c, v in row.items()))
    return table


def to_csv(rows: list[dict[str, Any]], columns: list[str], total: dict[str, Any] | None = None) -> str:
    """CSV with a header; ``total`` adds a last line labelled TOTAL in the first column."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if total is not None:
        writer.writerow({**{c: "" for c in columns}, **total, columns[0]: "TOTAL"})
    return out.getvalue()


def to_json(rows: list[dict[str, Any]], by: list[str], month: str | None, total: dict[str, Any]) -> str:
    return json.dumps({"month": month, "by": by, "rows": rows, "totals": total})


CHARGEBACK_COLUMNS = [
    "month",
    "team",
    "feature",
    "model",
    "jobs",
    "failures",
    "cache_hits",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_usd",
    "cache_saved_usd",
    "routing_saved_usd",
]


def chargeback_csv(month: str, team: str, rows: list[dict[str, Any]]) -> str:
    """One team's showback/chargeback statement: a line per feature and model, then a total."""
    lines = [{**row, "month": month, "team": team} for row in rows]
    total: dict[str, Any] = {c: sum(row[c] or 0 for row in rows) for c in CHARGEBACK_COLUMNS[4:]}
    for column in ("cost_usd", "cache_saved_usd", "routing_saved_usd"):
        total[column] = round(total[column], 9)
    total.update(month=month, team=team, feature="", model="")
    return to_csv(lines, CHARGEBACK_COLUMNS, total)
