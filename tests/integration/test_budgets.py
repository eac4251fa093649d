"""Done means 2: a team with a small budget crosses 50 % and 80 % (one signed alert each,
verified at a test webhook receiver) and then 100 %: with ``block`` its next job is
refused with a clear error while another team's jobs run; with ``downgrade`` its next job
runs on the cheapest model. An admin raising the budget lets the blocked team run again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from broker import keys
from broker.budgets.counters import month_of, spend_field
from scripts.embedded_redis import free_port
from tests.conftest import BrokerUnderTest, broker_config, start_broker
from workers.webhooks.signing import new_secret

pytestmark = pytest.mark.integration
SECRET = new_secret()


class Receiver:
    """A webhook endpoint that records what it is sent (headers and raw body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/budget"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, team: str) -> list[dict]:
        """Every alert for ``team``, each verified by its Standard Webhooks signature."""
        verified = [Webhook(SECRET).verify(body, headers) for headers, body in list(self.received)]
        return [event["data"] for event in verified if event["data"]["team"] == team]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[BrokerUnderTest]:
    config = broker_config(
        teams={
            "alpha": {"budget": {"monthly_usd": 1.0, "policy": "block"}},
            "beta": {"budget": {"monthly_usd": 1.0, "policy": "downgrade"}},
            "gamma": {},
        },
        # a cent per output token, nothing for input: each job's cost is set by #sim(tokens=N)
        models={"gpt-4o-mini": {"price": {"input": 0.0, "output": 10_000.0, "cached_input": 0.0}}},
        alerts={"webhook_url": receiver.url, "sweep_interval_s": 0.5, "reconcile_interval_s": 5},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BUDGET_WEBHOOK_SECRET", SECRET)
        stack = start_broker(tmp_path_factory.mktemp("budgets"), config, monitor=True)
    try:
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


def submit(broker: BrokerUnderTest, team: str, tokens: int, model: str = "gpt-4o-mini") -> httpx.Response:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": f"#sim(tokens={tokens}) spend for {team} {time.time()}"}],
        "max_tokens": 200,
    }
    headers = {**broker.headers(team), "Prefer": "wait=60"}
    return httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers, timeout=90)


def run(broker: BrokerUnderTest, team: str, tokens: int) -> dict:
    response = submit(broker, team, tokens)
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["state"] == "succeeded", job
    return job


def wait_until(condition, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def published(broker: BrokerUnderTest, team: str) -> dict:
    raw = broker.redis.hget(keys.budget_state(month_of(time.time())), spend_field(team))
    return json.loads(raw) if raw else {}


def test_block_alerts_once_per_threshold_then_refuses_while_others_run(
    broker: BrokerUnderTest, receiver: Receiver
) -> None:
    assert run(broker, "alpha", 55)["usage"]["cost_usd"] == pytest.approx(0.55)
    wait_until(lambda: len(receiver.alerts("alpha")) == 1, "the 50 % alert")
    run(broker, "alpha", 30)  # $0.85
    wait_until(lambda: len(receiver.alerts("alpha")) == 2, "the 80 % alert")
    assert [a["threshold_percent"] for a in receiver.alerts("alpha")] == [50, 80]
    assert published(broker, "alpha")["action"] == "run"

    run(broker, "alpha", 20)  # $1.05: spent
    refused = submit(broker, "alpha", 5)
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["type"] == "budget_exceeded"
    assert "alpha" in error["message"] and "$1.05" in error["message"] and "$1.00" in error["message"]
    assert "budget" in error["message"] and "policy block" in error["message"]
    assert run(broker, "gamma", 40)["team"] == "gamma"  # another team's jobs run

    wait_until(lambda: len(receiver.alerts("alpha")) == 3, "the 100 % alert")
    alerts = receiver.alerts("alpha")
    assert [a["threshold_percent"] for a in alerts] == [50, 80, 100]
    assert alerts[-1]["action"] == "block" and alerts[-1]["spend_usd"] == pytest.approx(1.05)
    assert published(broker, "alpha")["action"] == "block"  # what the scheduler's admission reads
    # the monitor sweeps every 0.5 s; once a sweep has run after the last alert, none may repeat
    fired_at = alerts[-1]["at"]
    wait_until(lambda: published(broker, "alpha")["updated_at"] > fired_at + 1.0, "a later budget sweep")
    assert [a["threshold_percent"] for a in receiver.alerts("alpha")] == [50, 80, 100]
    assert len({headers["webhook-id"] for headers, _ in receiver.received}) == len(receiver.received)
    logs = "".join(p.read_text(errors="replace") for p in (broker.stack.home / "logs").glob("*.log"))
    assert "budget alert: alpha has spent $0.55 of its $1.00 monthly budget" in logs


def test_an_admin_raising_the_budget_unblocks_at_once(broker: BrokerUnderTest) -> None:
    if published(broker, "alpha").get("action") != "block":
        pytest.skip("needs the blocked team of the previous test")
    url = f"{broker.api_url}/v1/budgets/alpha"
    body = {"monthly_usd": 5.0}
    assert httpx.put(url, json=body, headers=broker.headers("alpha")).status_code == 403
    admin = {"Authorization": f"Bearer {broker.key('gamma', admin=True)}"}
    changed = httpx.put(url, json=body, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"][0]["action"] == "run" and changed.json()["data"][0]["budget_usd"] == 5.0
    assert run(broker, "alpha", 5)["state"] == "succeeded"
    bad = httpx.put(url, json={"monthly_usd": -1}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "monthly_usd"
    listed = httpx.get(f"{broker.api_url}/v1/budgets", headers=broker.headers("alpha")).json()["data"]
    assert [(b["team"], b["budget_usd"]) for b in listed] == [("alpha", 5.0)]


def test_downgrade_runs_the_next_job_on_the_cheapest_model(broker: BrokerUnderTest, receiver: Receiver) -> None:
    run(broker, "beta", 60)
    run(broker, "beta", 45)  # $1.05: spent
    wait_until(lambda: published(broker, "beta").get("action") == "downgrade", "beta's downgrade state")
    job = run(broker, "beta", 10)
    assert job["candidates"][0] == "llama-3.1-8b"
    assert job["model"] == "llama-3.1-8b" and job["attempts"][0]["model"] == "llama-3.1-8b"
    assert job["attempts"][0]["provider"] == "selfhosted"
    wait_until(lambda: [a["threshold_percent"] for a in receiver.alerts("beta")] == [50, 80, 100], "beta's alerts")


def test_budget_cli_shows_real_time_spend(broker: BrokerUnderTest, tmp_path: Path) -> None:
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-m", "broker.cli.main", "budgets", "show", "--format", "json"],
        env=broker.stack.child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = {row["team"]: row for row in json.loads(shown.stdout)}
    assert rows["beta"]["spend_usd"] >= 1.05 and rows["beta"]["action"] == "downgrade"
    assert "gamma" not in rows
