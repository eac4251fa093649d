"""The demo: start the whole broker on this machine, run a sample batch for two teams,
print the answers and a cost report, stop everything. Exits 0 only if every job succeeded.

Ports are chosen free so the demo never collides with a Redis or web server already
running; data goes under ``var/demo``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from broker.auth import create_api_key
from broker.ledger import spend_report
from broker.redis_clients import sync_client
from broker.settings import sample_config_path
from scripts.embedded_redis import free_port
from scripts.stack import Stack

console = Console(width=150)


def sample_jobs() -> list[dict[str, Any]]:
    text = resources.files("scripts").joinpath("demo_jobs.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def run_jobs(api_url: str, team_keys: dict[str, str], jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=api_url, timeout=120) as client:

        async def one(job: dict[str, Any]) -> dict[str, Any]:
            body = {k: v for k, v in job.items() if k != "team"}
            headers = {"Authorization": f"Bearer {team_keys[job['team']]}", "Prefer": "wait=60"}
            response = await client.post("/v1/jobs", json=body, headers=headers)
            response.raise_for_status()
            return dict(response.json())

        return await asyncio.gather(*(one(job) for job in jobs))


def print_results(results: list[dict[str, Any]]) -> None:
    table = Table(title="sample batch")
    for column in ("team", "feature", "model", "state", "tokens in/out", "cost $", "answer"):
        table.add_column(column)
    for job in results:
        usage = job.get("usage") or {}
        answer = ((job.get("result") or {}).get("choices") or [{}])[0].get("message", {}).get("content", "")
        table.add_row(
            job["team"],
            job["feature"],
            job.get("model") or "-",
            job["state"],
            f"{usage.get('input_tokens', 0)}/{usage.get('output_tokens', 0)}",
            f"{usage.get('cost_usd', 0):.6f}",
            (answer or job.get("error") or "")[:48],
        )
    console.print(table)


def wait_for_ledger(ledger: Path, expected: int, timeout_s: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = spend_report(ledger, ["team", "model"])
        if sum(r["jobs"] for r in rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def print_report(rows: list[dict[str, Any]]) -> None:
    columns = ("team", "model", "jobs", "input_tokens", "output_tokens", "cost_usd")
    table = Table(title="cost report (from the Parquet ledger, via DuckDB)")
    for column in columns:
        table.add_column(column, justify="left" if column in ("team", "model") else "right")
    for row in rows:
        table.add_row(*(f"{row[c]:.6f}" if c == "cost_usd" else str(row[c]) for c in columns))
    total = sum(row["cost_usd"] for row in rows)
    table.caption = f"total ${total:.6f}"
    console.print(table)


def main() -> int:
    home = Path("var/demo").resolve()
    shutil.rmtree(home, ignore_errors=True)
    config = yaml.safe_load(sample_config_path().read_text())
    stack = Stack(config, home, redis_port=free_port(), api_port=free_port())
    try:
        console.print(
            "[bold]starting llm-broker[/] (embedded Redis, simulated providers, API, scheduler, workers, sink)"
        )
        stack.start()
        assert stack.config is not None
        redis = sync_client(stack.config)
        team_keys = {team: create_api_key(redis, team, "demo")[0] for team in stack.config.teams}
        jobs = sample_jobs()
        console.print(f"API at {stack.api_url}; submitting {len(jobs)} jobs for teams {', '.join(team_keys)}")
        started = time.monotonic()
        results = asyncio.run(run_jobs(stack.api_url, team_keys, jobs))
        console.print(f"all jobs ended in {time.monotonic() - started:.1f} s")
        print_results(results)
        print_report(wait_for_ledger(home / "ledger", len(results)))
        succeeded = sum(1 for job in results if job["state"] == "succeeded")
        console.print(f"{succeeded}/{len(results)} jobs succeeded")
        return 0 if succeeded == len(results) else 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
