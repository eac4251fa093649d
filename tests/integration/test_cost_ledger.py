"""Done means 1: jobs for two teams and three features produce a report whose per-team
costs equal prices x real usage to the cent, and still do after the sink is killed with
SIGKILL mid-batch and restarted (no loss, no double count). Also: the CLI report and the
chargeback CSVs agree, routing savings are booked, and the spend counters reconcile."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis as AsyncRedis

from broker import keys
from broker.budgets.counters import month_of
from broker.ledger import LedgerStorage, open_ledger
from broker.ledger.reports import spend_report, totals
from broker.pricing import rates_at, routing_saved_usd
from scripts.stack import Stack
from tests.conftest import BrokerUnderTest, broker_config, start_broker
from workers.reconcile import reconcile
from workers.usage_sink import FAILPOINT_ENV, GROUP

pytestmark = pytest.mark.integration

PRICES = {
    # the base price is long gone; the middle entry is in force; the last is in the future
    "gpt-4o-mini": {
        "input": 9999.0,
        "output": 9999.0,
        "price_history": [
            {"from": "2020-01-01", "input": 1500.0, "output": 6000.0},
            {"from": "2099-01-01", "input": 0.0, "output": 0.0},
        ],
    },
    "claude-3-5-haiku": {"input": 8000.0, "output": 40000.0},
    "llama-3.1-8b": {"input": 200.0, "output": 500.0},
    "gpt-4o": {"input": 25000.0, "output": 100000.0},
}
FEATURES = ("search", "summarize", "classify")


def config() -> dict:
    models = {name: {"price": price} for name, price in PRICES.items()}
    ledger = {"batch_size": 5, "block_ms": 200, "compact_interval_s": 1.0, "compact_min_files": 3, "claim_idle_s": 5.0}
    return broker_config(models=models, ledger=ledger)


@pytest.fixture(scope="module")
def ran() -> list[dict]:
    """Every job this module ran, in any test: the ledger must hold exactly these."""
    return []


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    stack = start_broker(tmp_path_factory.mktemp("ledger"), config(), sink=True)
    try:
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


def job_bodies(wave: int) -> list[tuple[str, dict]]:
    bodies = []
    for n, (team, feature) in enumerate((t, f) for t in ("alpha", "beta") for f in FEATURES):
        for k, target in enumerate(("gpt-4o-mini", "claude-3-5-haiku", "simple")):
            tokens = 7 + 5 * n + 3 * k + wave
            body = {
                "messages": [{"role": "user", "content": f"#sim(tokens={tokens}) wave {wave} {team} {feature}"}],
                "metadata": {"feature": feature},
                "max_tokens": 200,
            }
            body.update({"tier": target} if target == "simple" else {"model": target})
            bodies.append((team, body))
    return bodies


def run_jobs(broker: BrokerUnderTest, wave: int, ran: list[dict]) -> list[dict]:
    async def go() -> list[dict]:
        keys_by_team = {team: broker.key(team) for team in ("alpha", "beta")}
        async with httpx.AsyncClient(base_url=broker.api_url, timeout=120) as client:

            async def one(team: str, body: dict) -> dict:
                headers = {"Authorization": f"Bearer {keys_by_team[team]}", "Prefer": "wait=60"}
                response = await client.post("/v1/jobs", json=body, headers=headers)
                assert response.status_code == 200, response.text
                return dict(response.json())

            return await asyncio.gather(*(one(team, body) for team, body in job_bodies(wave)))

    jobs = asyncio.run(go())
    assert all(job["state"] == "succeeded" for job in jobs), [j["error"] for j in jobs if j["state"] != "succeeded"]
    ran.extend(jobs)
    return jobs


def expected_costs(broker: BrokerUnderTest, jobs: list[dict]) -> tuple[dict[str, float], dict[str, float]]:
    """Per team: prices in force x the usage the provider reported, and routing savings."""
    cost: dict[str, float] = defaultdict(float)
    saved: dict[str, float] = defaultdict(float)
    for job in jobs:
        usage = job["result"]["usage"]
        finished = job["usage"]["finished_at"]
        rates = rates_at(broker.config.models[job["model"]].price, finished)
        cost[job["team"]] += (usage["prompt_tokens"] * rates.input + usage["completion_tokens"] * rates.output) / 1e6
        tier = "simple" if job["candidates"] == broker.config.tiers["simple"] else None
        saved[job["team"]] += routing_saved_usd(
            broker.config, tier, job["model"], finished, usage["prompt_tokens"], usage["completion_tokens"]
        )
    return dict(cost), dict(saved)


def wait_for_rows(broker: BrokerUnderTest, expected: int, timeout_s: float = 120) -> None:
    storage = open_ledger_of(broker)
    deadline = time.monotonic() + timeout_s
    while totals(storage)["jobs"] < expected:
        assert time.monotonic() < deadline, f"ledger has {totals(storage)['jobs']} of {expected} rows"
        time.sleep(0.25)


def open_ledger_of(broker: BrokerUnderTest) -> LedgerStorage:
    os.environ["LLM_BROKER_HOME"] = str(broker.stack.home)
    try:
        return open_ledger(broker.config)
    finally:
        del os.environ["LLM_BROKER_HOME"]


def assert_report_matches(broker: BrokerUnderTest, jobs: list[dict]) -> None:
    storage = open_ledger_of(broker)
    month = month_of(time.time())
    cost, saved = expected_costs(broker, jobs)
    by_team = {row["team"]: row for row in spend_report(storage, ["team"], month)}
    assert set(by_team) == {"alpha", "beta"}
    for team in ("alpha", "beta"):
        assert cost[team] > 1.0  # large enough that "to the cent" is a real check
        assert round(by_team[team]["cost_usd"], 2) == round(cost[team], 2)
        assert by_team[team]["cost_usd"] == pytest.approx(cost[team], abs=1e-6)
        assert by_team[team]["routing_saved_usd"] == pytest.approx(saved[team], abs=1e-6)
        assert saved[team] > 0
        assert by_team[team]["jobs"] == len([j for j in jobs if j["team"] == team])
    rows = spend_report(storage, ["team", "feature", "model"], month)
    assert {r["feature"] for r in rows} == set(FEATURES)
    assert sum(r["jobs"] for r in rows) == len(jobs)


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broker.cli.main", *args],
        env=stack.child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_per_team_costs_equal_prices_times_usage_to_the_cent(
    broker: BrokerUnderTest, ran: list[dict], tmp_path: Path
) -> None:
    run_jobs(broker, 1, ran)
    jobs = list(ran)
    wait_for_rows(broker, len(jobs))
    assert_report_matches(broker, jobs)

    month = month_of(time.time())
    report = json.loads(
        cli(broker.stack, "report", "--month", month, "--by", "team,feature,model", "--format", "json").stdout
    )
    cost, _ = expected_costs(broker, jobs)
    for team in ("alpha", "beta"):
        booked = sum(r["cost_usd"] for r in report["rows"] if r["team"] == team)
        assert booked == pytest.approx(cost[team], abs=1e-6)
    assert report["totals"]["jobs"] == len(jobs)
    assert report["totals"]["p95_latency_ms"] >= report["totals"]["p50_latency_ms"] > 0

    cli(broker.stack, "chargeback", "--month", month, "--out", str(tmp_path))
    for team in ("alpha", "beta"):
        lines = list(csv.DictReader((tmp_path / f"chargeback-{month}-{team}.csv").open()))
        assert lines[-1]["month"] == "TOTAL"
        assert float(lines[-1]["cost_usd"]) == pytest.approx(cost[team], abs=1e-6)
        assert {line["feature"] for line in lines[:-1]} == set(FEATURES)

    table = cli(broker.stack, "report", "--month", month, "--by", "team").stdout
    assert "alpha" in table and "beta" in table and "total" in table


def test_sigkill_mid_batch_then_restart_loses_and_double_counts_nothing(
    broker: BrokerUnderTest, ran: list[dict]
) -> None:
    run_jobs(broker, 2, ran)
    wait_for_rows(broker, len(ran))
    broker.stack.kill_process("sink")
    second = run_jobs(broker, 3, ran)
    assert broker.redis.xlen(keys.USAGE_STREAM) == len(second)  # waiting for a sink

    broker.stack.environ[FAILPOINT_ENV] = "after-write"
    try:
        broker.stack.start_sink()
        crashed = broker.stack.processes["sink"]
        assert crashed.wait(60) == -9  # SIGKILL, after writing a batch and before acknowledging it
    finally:
        del broker.stack.environ[FAILPOINT_ENV]
    broker.stack.processes.pop("sink")
    assert broker.redis.xpending(keys.USAGE_STREAM, GROUP)["pending"] == 5  # the batch written, unacknowledged

    broker.stack.start_sink()
    total_jobs = len(ran)
    wait_for_rows(broker, total_jobs)
    deadline = time.monotonic() + 60
    while broker.redis.xlen(keys.USAGE_STREAM):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    storage = open_ledger_of(broker)
    assert totals(storage)["jobs"] == total_jobs
    check = json.loads(cli(broker.stack, "ledger", "check").stdout)
    assert check["rows"] == total_jobs and check["duplicates"] == 0

    assert_report_matches(broker, ran)

    async def drift() -> list[dict]:
        redis = AsyncRedis.from_url(broker.config.redis.url or "")
        try:
            return await reconcile(redis, storage, month_of(time.time()), timeout_s=60)
        finally:
            await redis.aclose()

    rows = asyncio.run(drift())
    assert {(r["team"], r["feature"]) for r in rows} >= {("alpha", None), ("beta", None), ("alpha", "search")}
    assert all(abs(r["drift_usd"]) < 1e-6 for r in rows), rows
