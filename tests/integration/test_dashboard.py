"""Done means 3: headless Chromium signs in to the dashboard with an admin key and sees
the teams, their spend and rendered plotly charts (screenshot in test-artifacts/). Also
``/metrics``: Prometheus text whose counters match the jobs that ran."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import sync_playwright
from prometheus_client.parser import text_string_to_metric_families

from broker import keys
from broker.budgets.counters import month_of
from broker.ledger import open_ledger
from broker.ledger.reports import totals
from tests.conftest import ARTIFACTS, BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    config = broker_config(
        teams={
            "alpha": {"budget": {"monthly_usd": 2.0, "policy": "block", "features": {"search": 1.0}}},
            "beta": {"budget": {"monthly_usd": 50.0, "policy": "downgrade"}},
        },
        models={"gpt-4o-mini": {"price": {"input": 1000.0, "output": 10_000.0}}},
        ledger={"batch_size": 50, "block_ms": 200},
        alerts={"reconcile_interval_s": 1.0, "sweep_interval_s": 1.0},
    )
    stack = start_broker(tmp_path_factory.mktemp("dashboard"), config, sink=True, monitor=True)
    try:
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def jobs(broker: BrokerUnderTest) -> list[dict]:
    """A small mixed workload for both teams: several features and models, one failure."""
    plan = [
        ("alpha", "search", "gpt-4o-mini", 60),
        ("alpha", "search", "gpt-4o-mini", 40),
        ("alpha", "chat", "claude-3-5-haiku", 30),
        ("beta", "summarize", "gpt-4o-mini", 25),
        ("beta", "summarize", "claude-3-5-haiku", 20),
        ("beta", "tagging", "gpt-4o-mini", 10),
    ]

    async def go() -> list[dict]:
        async with httpx.AsyncClient(base_url=broker.api_url, timeout=90) as client:
            keys = {team: broker.key(team) for team in ("alpha", "beta")}

            async def one(team: str, feature: str, model: str, tokens: int, text: str = "") -> dict:
                body = {
                    "model": model,
                    "messages": [{"role": "user", "content": f"#sim(tokens={tokens}{text}) {feature} {tokens}"}],
                    "metadata": {"feature": feature},
                    "max_tokens": 100,
                }
                headers = {"Authorization": f"Bearer {keys[team]}", "Prefer": "wait=60"}
                return dict((await client.post("/v1/jobs", json=body, headers=headers)).json())

            done = [await one(*p) for p in plan]  # in order: alpha crosses its thresholds
            done.append(await one("beta", "tagging", "gpt-4o-mini", 5, ", status=400"))
            return done

    done = asyncio.run(go())
    assert [j["state"] for j in done] == ["succeeded"] * len(plan) + ["failed"]
    return done


def wait_for_ledger(broker: BrokerUnderTest, count: int) -> None:
    import os

    os.environ["LLM_BROKER_HOME"] = str(broker.stack.home)
    try:
        storage = open_ledger(broker.config)
    finally:
        del os.environ["LLM_BROKER_HOME"]
    deadline = time.monotonic() + 60
    while totals(storage, month_of(time.time()))["jobs"] < count:
        assert time.monotonic() < deadline, "the sink did not write the ledger"
        time.sleep(0.2)


def spend_of(jobs: list[dict], team: str) -> float:
    return sum(j["usage"]["cost_usd"] for j in jobs if j["team"] == team)


def drift_rows(broker: BrokerUnderTest) -> dict[tuple[str, str | None], dict]:
    rows = [json.loads(v) for v in broker.redis.hgetall(keys.BUDGET_DRIFT).values()]
    return {(r["team"], r["feature"]): r for r in rows}


def test_dashboard_in_headless_chromium(broker: BrokerUnderTest, jobs: list[dict]) -> None:
    wait_for_ledger(broker, len(jobs))
    # the monitor's periodic reconciliation has compared the counters with the ledger
    deadline = time.monotonic() + 60
    while drift_rows(broker).get(("alpha", None), {}).get("ledger_usd", 0) < spend_of(jobs, "alpha") - 1e-9:
        assert time.monotonic() < deadline, drift_rows(broker)
        time.sleep(0.2)
    assert all(abs(r["drift_usd"]) < 1e-6 for r in drift_rows(broker).values())
    admin_key = broker.key("beta", admin=True)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(f"{broker.api_url}/dashboard")
            assert page.locator("input[name=key]").count() == 1  # not signed in: the form
            page.fill("input[name=key]", broker.key("alpha"))  # a key, but not an admin's
            page.click("button[type=submit]")
            assert "not an admin" in page.content()
            page.fill("input[name=key]", admin_key)
            page.click("button[type=submit]")
            page.wait_for_selector("#chart-spend-vs-budget .main-svg", timeout=30_000)
            page.wait_for_selector("#chart-spend-by-model .main-svg", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            for team in ("alpha", "beta"):
                row = page.locator(f"#teams tr[data-team={team}]")
                assert row.count() == 1
                assert row.locator(".spend").inner_text() == f"${spend_of(jobs, team):,.2f}"
            assert page.locator('#budgets tr[data-scope="alpha/search"] .block').inner_text() == "block"
            assert page.locator('#budgets tr[data-scope="alpha"] .run').inner_text() == "run"
            # plotly drew real charts: bars in the spend chart, one trace per model in the series
            assert page.locator("#chart-spend-vs-budget .bars .point").count() >= 2
            assert page.locator("#chart-spend-by-model .legendtext").count() >= 2
            assert page.evaluate("typeof Plotly") == "object"
            banner = page.locator(".banner").all_inner_texts()
            assert any("alpha" in text and "100 %" in text for text in banner), banner
            assert "openai" in page.locator("#provider-errors").inner_text()
            assert "alpha/search" in page.locator("#drift").inner_text()
            page.goto(f"{broker.api_url}/dashboard/logout")
            assert page.locator("input[name=key]").count() == 1
        finally:
            browser.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_a_spent_feature_budget_blocks_only_that_feature(broker: BrokerUnderTest, jobs: list[dict]) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "#sim(tokens=3) more"}], "max_tokens": 10}
    headers = {**broker.headers("alpha"), "Prefer": "wait=60"}
    search = httpx.post(f"{broker.api_url}/v1/jobs", json={**body, "metadata": {"feature": "search"}}, headers=headers)
    assert search.status_code == 402 and "alpha/search" in search.json()["error"]["message"]
    chat = httpx.post(f"{broker.api_url}/v1/jobs", json={**body, "metadata": {"feature": "chat"}}, headers=headers)
    assert chat.status_code == 200 and chat.json()["state"] == "succeeded"
    jobs.append(chat.json())


def test_dashboard_needs_an_admin_key(broker: BrokerUnderTest) -> None:
    assert httpx.get(f"{broker.api_url}/dashboard").status_code == 401
    bearer = {"Authorization": f"Bearer {broker.key('alpha')}"}
    assert httpx.get(f"{broker.api_url}/dashboard", headers=bearer).status_code == 401
    admin = {"Authorization": f"Bearer {broker.key('alpha', admin=True)}"}
    page = httpx.get(f"{broker.api_url}/dashboard", headers=admin)
    assert page.status_code == 200 and 'src="/dashboard/plotly.min.js"' in page.text
    bundle = httpx.get(f"{broker.api_url}/dashboard/plotly.min.js")
    assert bundle.status_code == 200 and len(bundle.content) > 1_000_000  # served locally, no CDN


def test_metrics_count_what_ran(broker: BrokerUnderTest, jobs: list[dict]) -> None:
    text = httpx.get(f"{broker.api_url}/metrics").text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def total(name: str, **labels: str) -> float:
        return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())

    succeeded = [j for j in jobs if j["state"] == "succeeded"]
    assert len(succeeded) >= 6
    assert total("llm_broker_jobs_finished_total", state="succeeded") == len(succeeded)
    assert total("llm_broker_jobs_finished_total", state="failed", team="beta") == 1
    assert total("llm_broker_cost_usd_total", team="alpha") == pytest.approx(spend_of(jobs, "alpha"))
    out = sum(j["usage"]["output_tokens"] for j in jobs)
    assert total("llm_broker_tokens_total", direction="output") == out
    assert total("llm_broker_provider_errors_total", provider="openai", status="400") == 1
    assert total("llm_broker_admission_wait_seconds_count") == len(jobs)
    assert total("llm_broker_budget_spend_usd", team="alpha", feature="search") == pytest.approx(
        sum(j["usage"]["cost_usd"] for j in jobs if j["team"] == "alpha" and j["feature"] == "search")
    )
    assert total("llm_broker_budget_action", team="alpha", feature="search", action="block") == 1
    assert total("llm_broker_budget_action", team="alpha", feature="", action="run") == 0
    assert {s.labels["team"] for s in samples if s.name == "llm_broker_queue_depth"} == {"alpha", "beta"}
