"""Reports over the usage ledger: DuckDB reading the Parquet that the usage sink writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

GROUPABLE = ("team", "feature", "model", "provider", "user", "key_id", "month")


def ledger_glob(root: Path) -> str:
    return str(root / "month=*" / "team=*" / "*.parquet")


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a ``usage`` view: one row per job and attempt, duplicates dropped."""
    con = duckdb.connect()
    if not any(root.glob("month=*/team=*/*.parquet")):
        con.execute(
            "CREATE VIEW usage AS SELECT * FROM (SELECT ''::VARCHAR AS job_id, ''::VARCHAR AS team, "
            "''::VARCHAR AS feature, ''::VARCHAR AS model, ''::VARCHAR AS provider, ''::VARCHAR AS user, "
            "''::VARCHAR AS key_id, ''::VARCHAR AS month, ''::VARCHAR AS state, 0::BIGINT AS attempt, "
            "0::BIGINT AS input_tokens, 0::BIGINT AS output_tokens, 0::BIGINT AS cached_tokens, "
            "0::DOUBLE AS cost_usd, 0::DOUBLE AS latency_ms, false AS cache_hit) WHERE false"
        )
        return con
    con.execute(
        f"""CREATE VIEW usage AS
        SELECT * EXCLUDE (rn) FROM (
          SELECT *, row_number() OVER (PARTITION BY job_id, attempt ORDER BY finished_at) AS rn
          FROM read_parquet('{ledger_glob(root)}', hive_partitioning = true)
        ) WHERE rn = 1"""
    )
    return con


def spend_report(root: Path, by: list[str], month: str | None = None) -> list[dict[str, Any]]:
    """Jobs, failures, tokens and cost grouped by the given columns."""
    unknown = [column for column in by if column not in GROUPABLE]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}; choose from {', '.join(GROUPABLE)}")
    con = connect(root)
    where = "WHERE month = ?" if month else ""
    group = ", ".join(by)
    rows = con.execute(
        f"""SELECT {group}, count(*) AS jobs, count(*) FILTER (WHERE state = 'failed') AS failures,
               sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
               round(sum(cost_usd), 6) AS cost_usd
            FROM usage {where} GROUP BY {group} ORDER BY {group}""",
        [month] if month else [],
    ).fetchall()
    columns = [*by, "jobs", "failures", "input_tokens", "output_tokens", "cost_usd"]
    return [dict(zip(columns, row, strict=True)) for row in rows]
