"""Benchmark the monthly report over a generated ledger of 10 million usage rows.

The ledger is generated with DuckDB in the layout the sink and compaction produce: one
month, 20 teams, each team's rows in compacted files (``c_…``) plus a tail of recent,
uncompacted batch files (``b_…``, deduplicated at read time). It lives in a temporary
folder (or ``--ledger``) and is never committed.

Timed: ``llm-broker report --month M --by team,feature,model`` as the library runs it
(list the month's files, build the view, aggregate jobs, failures, cache hits, tokens,
cost, savings and exact p50/p95 latency per team x feature x model), plus the totals.

    python -m scripts.bench_report [--rows 10000000] [--runs 5] [--batch-files 200]

Prints one JSON object on its last line (medians over runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from broker.ledger.layout import file_name
from broker.ledger.reports import spend_report, totals
from broker.ledger.storage import LedgerStorage
from scripts.benchjobs import machine

MONTH = "2026-11"
START = 1793491200  # 2026-11-01T00:00:00Z
TEAMS = 20


def rows_sql(first: int, count: int, team: int | None) -> str:
    """``count`` synthetic usage rows with stream ids from ``first`` (one team, or all)."""
    team_expr = f"'team{team}'" if team is not None else "'team' || (i % 20)"
    return f"""
    SELECT 'job_' || lpad(to_hex({START}::BIGINT * 1000 + i // 4), 12, '0') || substr(md5(i::VARCHAR), 1, 16) AS job_id,
      {team_expr} AS team, 'user' || (i % 50) AS "user",
      'key_' || (i % 40) AS key_id, 'feature' || ((i // 7) % 30) AS feature,
      CASE WHEN i % 3 = 0 THEN 'anthropic' ELSE 'openai' END AS provider, 'model' || (i % 6) AS model,
      CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END AS state,
      CASE WHEN i % 4 = 0 THEN 'simple' END AS tier, NULL::VARCHAR AS template_id, NULL::VARCHAR AS batch_id,
      1::BIGINT AS attempt, (100 + hash(i * 7) % 900)::BIGINT AS input_tokens,
      (20 + hash(i * 13) % 300)::BIGINT AS output_tokens,
      (i % 64)::BIGINT AS cached_tokens, NULL::BIGINT AS template_version,
      ((100 + hash(i * 7) % 900) * 2.5 + (20 + hash(i * 13) % 300) * 10) / 1e6 AS cost_usd,
      CASE WHEN i % 10 = 0 THEN 0.0004 ELSE 0 END AS saved_usd,
      CASE WHEN i % 4 = 0 THEN 0.0001 ELSE 0 END AS routing_saved_usd,
      (200 + hash(i) % 5000 + (hash(i * 31) % 1000) / 1000)::DOUBLE AS latency_ms,
      {START} + (i * 0.25) % 2500000 AS created_at, {START} + (i * 0.25) % 2500000 + 1.5 AS finished_at,
      (i % 10 = 0) AS cache_hit, '{MONTH}' AS month,
      ({START}::BIGINT * 1000 + i) AS stream_ms, 0::BIGINT AS stream_seq
    FROM range({first}, {first + count}) t(i)"""


def generate(root: Path, rows: int, batch_files: int, batch_rows: int) -> dict[str, Any]:
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    compacted = rows - batch_files * batch_rows
    per_team = compacted // TEAMS
    for team in range(TEAMS):
        folder = root / f"month={MONTH}" / f"team=team{team}"
        folder.mkdir(parents=True, exist_ok=True)
        first = team * per_team
        name = file_name("c", (START * 1000 + first, 0), (START * 1000 + first + per_team - 1, 0))
        con.execute(
            f"COPY ({rows_sql(first, per_team, team)}) TO '{folder / name}' "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 262144)"
        )
    base = TEAMS * per_team
    for n in range(batch_files):
        first = base + n * batch_rows
        team = n % TEAMS
        folder = root / f"month={MONTH}" / f"team=team{team}"
        name = file_name("b", (START * 1000 + first, 0), (START * 1000 + first + batch_rows - 1, 0))
        con.execute(f"COPY ({rows_sql(first, batch_rows, team)}) TO '{folder / name}' (FORMAT parquet)")
    size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    return {
        "generate_s": round(time.perf_counter() - started, 1),
        "ledger_mb": round(size / 2**20, 1),
        "files": len(list(root.rglob("*.parquet"))),
    }


def timed(runs: int, action: Any) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(round(time.perf_counter() - started, 3))
    return times, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-files", type=int, default=200)
    parser.add_argument("--batch-rows", type=int, default=500)
    parser.add_argument("--ledger", type=Path, help="generate here (kept) instead of a temporary folder")
    args = parser.parse_args(argv)
    root = args.ledger or Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    try:
        if root.exists() and any(root.rglob("*.parquet")):
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        info = generate(root, args.rows, args.batch_files, args.batch_rows)
        print(json.dumps(info), flush=True)
        storage = LedgerStorage(root)
        report_s, rows = timed(args.runs, lambda: spend_report(storage, ["team", "feature", "model"], MONTH))
        totals_s, total = timed(args.runs, lambda: totals(storage, MONTH))
        if total["jobs"] != args.rows:
            raise RuntimeError(f"report counted {total['jobs']} rows, generated {args.rows}")
        print(json.dumps({"report_s": report_s, "totals_s": totals_s}), flush=True)
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    **info,
                    "groups": len(rows),
                    "report_team_feature_model_s_median": statistics.median(report_s),
                    "totals_s_median": statistics.median(totals_s),
                    "target_s": 2.0,
                    "machine": {**machine(), "loadavg_at_end": os.getloadavg()},
                }
            )
        )
    finally:
        if args.ledger is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
