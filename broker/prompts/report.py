"""Compare a template's versions from the ledger: jobs, tokens, cost, latency, cache hits,
failures and mean outcome score, with a confidence interval for each version's score
difference against a baseline.

Reads only the ``usage`` view's columns (``broker.ledger.views.connect``) and the feedback
table the sink writes beside the ledger; the latest feedback row per job counts.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

from broker.ledger.storage import LedgerStorage
from broker.ledger.views import connect
from broker.prompts.stats import welch_interval
from schemas.prompts import PromptReport, VersionReport

NEEDED = {"job_id", "attempt", "template_id", "template_version", "state", "input_tokens", "output_tokens"}
NEEDED |= {"cost_usd", "latency_ms", "cache_hit", "finished_at"}

QUERY = """
WITH jobs AS (
  SELECT * FROM usage WHERE template_id = ?
  QUALIFY row_number() OVER (PARTITION BY job_id ORDER BY attempt DESC, finished_at DESC) = 1
)
SELECT j.template_version,
  count(*),
  count(*) FILTER (WHERE j.state = 'succeeded'),
  count(*) FILTER (WHERE j.state = 'failed'),
  coalesce(sum(j.input_tokens), 0),
  coalesce(sum(j.output_tokens), 0),
  coalesce(sum(j.cost_usd), 0),
  avg(j.latency_ms) FILTER (WHERE j.state = 'succeeded'),
  quantile_cont(j.latency_ms, 0.95) FILTER (WHERE j.state = 'succeeded'),
  avg(CASE WHEN j.cache_hit THEN 1.0 ELSE 0.0 END),
  count(f.score),
  avg(f.score),
  var_samp(f.score)
FROM jobs j LEFT JOIN feedback f USING (job_id)
WHERE j.template_version IS NOT NULL
GROUP BY 1 ORDER BY 1
"""


def feedback_glob(root: Path) -> str:
    return str(root / "month=*" / "team=*" / "*.parquet")


def attach_feedback(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """A ``feedback`` view: each job's latest score."""
    if any(root.glob("month=*/team=*/*.parquet")):
        con.execute(
            f"""CREATE VIEW feedback AS
            SELECT job_id, arg_max(score, created_at) AS score
            FROM read_parquet('{feedback_glob(root)}', hive_partitioning = true) GROUP BY job_id"""
        )
    else:
        con.execute("CREATE VIEW feedback AS SELECT NULL::VARCHAR AS job_id, NULL::DOUBLE AS score WHERE false")


def version_rows(ledger: Path | str, feedback: Path, template_id: str) -> list[VersionReport]:
    con = connect(LedgerStorage(ledger))
    columns = {row[0] for row in con.execute("DESCRIBE usage").fetchall()}
    if not columns >= NEEDED:  # an empty ledger has no template columns yet
        return []
    attach_feedback(con, feedback)
    rows = []
    for row in con.execute(QUERY, [template_id]).fetchall():
        version, jobs, ok, failed, tin, tout, cost, lat, p95, hits, scored, mean, var = row
        rows.append(
            VersionReport(
                version=int(version),
                jobs=jobs,
                succeeded=ok,
                failed=failed,
                failure_rate=failed / jobs,
                input_tokens=int(tin),
                output_tokens=int(tout),
                cost_usd=round(float(cost), 9),
                cost_per_job_usd=round(float(cost) / jobs, 9),
                mean_latency_ms=lat,
                p95_latency_ms=p95,
                cache_hit_rate=float(hits),
                scored=scored,
                mean_score=mean,
                score_sd=math.sqrt(var) if var is not None else None,
            )
        )
    return rows


def compare(rows: list[VersionReport], baseline: int | None, level: float) -> list[VersionReport]:
    """Each version's score difference from the baseline version, with its interval."""
    base = next((r for r in rows if r.version == baseline), None)
    if base is None or base.mean_score is None:
        return rows
    out = []
    for row in rows:
        interval = None
        if row.version != base.version and row.mean_score is not None:
            var_base = (base.score_sd or 0.0) ** 2
            var_row = (row.score_sd or 0.0) ** 2
            interval = welch_interval(
                base.scored, base.mean_score, var_base, row.scored, row.mean_score, var_row, level
            )
        if interval is None:
            out.append(row)
        else:
            out.append(
                row.model_copy(
                    update={
                        "score_diff": interval.diff,
                        "score_diff_low": interval.low,
                        "score_diff_high": interval.high,
                    }
                )
            )
    return out


def prompt_report(
    ledger: Path | str, feedback: Path, template_id: str, baseline: int | None = None, level: float = 0.95
) -> PromptReport:
    """Versions side by side; the baseline defaults to the lowest version that has jobs."""
    rows = version_rows(ledger, feedback, template_id)
    if baseline is None and rows:
        baseline = rows[0].version
    return PromptReport(
        template_id=template_id, baseline=baseline, level=level, versions=compare(rows, baseline, level)
    )
