"""The answer cache end to end over HTTP: real Redis, real Celery workers (the cache worker with
all-MiniLM-L6-v2 and an embedded Chroma, and the provider workers), the simulated providers.

The simulator answers deterministically from the exact prompt, so a paraphrase answered with
the first prompt's text, while the simulator's request count stands still, was answered from
the cache and nowhere else.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import duckdb
import httpx
import pytest
from standardwebhooks import Webhook

from broker import keys
from broker.ledger.storage import LedgerStorage
from broker.ledger.views import connect
from broker.pricing import cost_usd
from scripts.embedded_redis import free_port
from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration
WAIT = {"Prefer": "wait=60"}
MODEL = "gpt-4o-mini"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    config = broker_config(
        teams={"alpha": {}, "beta": {}, "gamma": {}, "delta": {}},
        cache={"enabled": True, "lookup_timeout_s": 120, "org_scope_teams": ["gamma", "delta"]},
        webhooks={"allow_networks": ["127.0.0.0/8"]},
    )
    stack = start_broker(tmp_path_factory.mktemp("cache"), config, providers=["openai"], sink=True, cache_worker=True)
    try:
        stack.start_webhook_worker()
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


def ask(broker: BrokerUnderTest, team: str, text: str, **fields: Any) -> dict[str, Any]:
    body = {"model": MODEL, "temperature": 0, "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
    body.update(fields)
    response = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers={**broker.headers(team), **WAIT}, timeout=90)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    assert job["state"] == "succeeded", job
    return job


def provider_calls(broker: BrokerUnderTest) -> int:
    total: int = httpx.get(f"{broker.stack.simulator_url}/_sim/stats").json()["total"]
    return total


def cached_entries(broker: BrokerUnderTest) -> list[dict[str, Any]]:
    found = []
    for key in broker.redis.scan_iter(match=keys.CACHE_ENTRY_PREFIX + "*"):
        raw = broker.redis.get(key)
        if raw:
            found.append(json.loads(raw))
    return found


def wait_stored(broker: BrokerUnderTest, job_id: str) -> dict[str, Any]:
    """The cache stores an answer after the job is delivered: wait until its entry exists."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for entry in cached_entries(broker):
            if entry["source_job"] == job_id:  # its vector was added before the entry
                return entry
        time.sleep(0.1)
    raise AssertionError(f"the answer of {job_id} was never stored")


def settle(broker: BrokerUnderTest, marker: str) -> None:
    """Store tasks are sent in the order jobs finish: once a later job's answer is stored, a
    store for any earlier one, had it been sent, is done too."""
    wait_stored(broker, ask(broker, "alpha", f"Which warehouse handles returns for region {marker}?")["id"])


def answer(job: dict[str, Any]) -> str:
    text: str = job["result"]["choices"][0]["message"]["content"]
    return text


def test_paraphrase_is_answered_from_the_cache_without_a_provider_call(broker: BrokerUnderTest) -> None:
    first = ask(broker, "alpha", "How do I reset my password?")
    assert first["cache"] == {"hit": False, "layer": None, "similarity": None, "entry": None, "reason": "no match"}
    assert first["attempts"][0]["outcome"] == "succeeded"
    wait_stored(broker, first["id"])
    calls = provider_calls(broker)

    second = ask(broker, "alpha", "Hi, how can I reset my password? Thanks")

    assert provider_calls(broker) == calls
    assert second["cache"]["hit"] is True and second["cache"]["layer"] == "semantic"
    assert 0.81 <= second["cache"]["similarity"] < 1
    assert answer(second) == answer(first)
    assert second["attempts"] == []
    assert second["usage"]["cache_hit"] is True


def test_exact_repeat_hits_the_exact_layer(broker: BrokerUnderTest) -> None:
    first = ask(broker, "alpha", "Where can I download my invoices?")
    wait_stored(broker, first["id"])
    calls = provider_calls(broker)
    again = ask(broker, "alpha", "Where can I download my invoices?")
    assert provider_calls(broker) == calls
    assert again["cache"]["layer"] == "exact" and again["cache"]["similarity"] == 1.0
    assert answer(again) == answer(first)


def test_a_hit_sends_its_signed_webhook_like_any_job(broker: BrokerUnderTest) -> None:
    deliveries: list[tuple[bytes, dict[str, str]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            deliveries.append((self.rfile.read(int(self.headers["content-length"])), dict(self.headers.items())))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        first = ask(broker, "alpha", "How do I export my contacts?")
        wait_stored(broker, first["id"])
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        hit = ask(broker, "alpha", "How do I export my contacts?", callback_url=url)
        assert hit["cache"]["hit"] is True
        deadline = time.monotonic() + 30
        while not deliveries and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.shutdown()
    assert len(deliveries) == 1, "the hit's webhook never arrived"
    secret = httpx.get(f"{broker.api_url}/v1/webhooks/secret", headers=broker.headers("alpha")).json()["secret"]
    body, headers = deliveries[0]
    event = Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    assert event["type"] == "job.succeeded" and event["data"]["id"] == hit["id"]
    assert event["data"]["usage"]["cache_hit"] is True
    assert event["data"]["result"]["choices"][0]["message"]["content"] == answer(first)


def test_near_miss_is_not_answered_from_the_cache(broker: BrokerUnderTest) -> None:
    france = ask(broker, "alpha", "What is the capital of France?")
    sundays = ask(broker, "alpha", "Is the store open on Sundays?")
    wait_stored(broker, france["id"])
    wait_stored(broker, sundays["id"])
    calls = provider_calls(broker)
    germany = ask(broker, "alpha", "What is the capital of Germany?")
    closed = ask(broker, "alpha", "Is the store closed on Sundays?")
    assert provider_calls(broker) == calls + 2
    assert germany["cache"]["hit"] is False and answer(germany) != answer(france)
    # "open" / "closed": similar enough to clear the threshold (cosine 0.96); the guard refused it
    assert closed["cache"]["hit"] is False
    assert closed["cache"]["reason"].startswith("near miss refused: 0.9"), closed["cache"]
    assert "substitution" in closed["cache"]["reason"]


def test_hit_records_its_saved_cost_and_takes_no_provider_tokens(broker: BrokerUnderTest) -> None:
    first = ask(broker, "alpha", "How long does shipping take to Canada?", model="gpt-4o")
    entry = wait_stored(broker, first["id"])
    hit = ask(broker, "alpha", "how long does shipping take to canada", model="gpt-4o")
    assert hit["cache"]["hit"] is True

    usage = hit["usage"]
    price = broker.config.models["gpt-4o"].price
    assert usage["saved_usd"] == pytest.approx(cost_usd(price, hit["input_tokens"], entry["completion_tokens"]))
    assert usage["saved_usd"] > 0
    assert usage["cost_usd"] == 0 and usage["input_tokens"] == usage["output_tokens"] == 0
    assert usage["provider"] is None and usage["attempt"] == 0 and usage["state"] == "succeeded"
    assert hit["result"]["usage"]["completion_tokens"] == entry["completion_tokens"]
    # the ledger gets the hit like any other finished job: the usage sink writes its one usage
    # event to the Parquet ledger that reports read (the sink deletes what it has written from
    # the stream, so the raw files are counted, not the deduplicating view)
    deadline = time.monotonic() + 60
    rows: list[tuple[Any, ...]] = []
    while not rows:
        assert time.monotonic() < deadline, "the hit never reached the ledger"
        time.sleep(0.2)
        rows = (
            connect(LedgerStorage(broker.stack.home / "ledger"))
            .execute("SELECT cache_hit, saved_usd, cost_usd, input_tokens FROM usage WHERE job_id = ?", [hit["id"]])
            .fetchall()
        )
    assert rows == [(True, pytest.approx(usage["saved_usd"]), 0.0, 0)]
    files = str(broker.stack.home / "ledger" / "**" / "*.parquet")
    raw = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{files}', union_by_name = true) WHERE job_id = ?", [hit["id"]]
    )
    assert raw.fetchall() == [(1,)]


def test_team_b_never_gets_team_a_entry(broker: BrokerUnderTest) -> None:
    exact = ask(broker, "alpha", "What does error code E42 mean?")
    reworded = ask(broker, "alpha", "How do I log out of all devices?")
    wait_stored(broker, exact["id"])
    wait_stored(broker, reworded["id"])
    assert ask(broker, "alpha", "how do i log out of all devices")["cache"]["hit"] is True  # alpha's own: a hit
    calls = provider_calls(broker)
    # beta asks the very same question, and a rewording alpha would have been answered for
    beta_exact = ask(broker, "beta", "What does error code E42 mean?")
    beta_reworded = ask(broker, "beta", "how do i log out of all devices")
    assert beta_exact["cache"]["hit"] is False and beta_reworded["cache"]["hit"] is False
    assert provider_calls(broker) == calls + 2


def test_org_scope_is_shared_only_by_the_teams_configured_for_it(broker: BrokerUnderTest) -> None:
    gamma = ask(broker, "gamma", "How do I rotate my API key?")
    wait_stored(broker, gamma["id"])
    calls = provider_calls(broker)
    delta = ask(broker, "delta", "How do I rotate my API key?")
    assert delta["cache"]["hit"] is True and answer(delta) == answer(gamma)
    alpha = ask(broker, "alpha", "How do I rotate my API key?")
    assert alpha["cache"]["hit"] is False
    assert provider_calls(broker) == calls + 1


def test_bypass_neither_reads_nor_writes(broker: BrokerUnderTest) -> None:
    first = ask(broker, "alpha", "How do I export a report as CSV?")
    wait_stored(broker, first["id"])
    calls = provider_calls(broker)
    bypass = ask(broker, "alpha", "How do I export a report as CSV?", cache={"mode": "bypass"})
    assert provider_calls(broker) == calls + 1
    assert bypass["cache"] is None  # never entered the cache stage

    fresh = ask(broker, "alpha", "How do I archive old tickets?", cache={"mode": "bypass"})
    settle(broker, "R1")
    assert all(e["source_job"] != fresh["id"] for e in cached_entries(broker))
    again = ask(broker, "alpha", "How do I archive old tickets?")
    assert again["cache"]["hit"] is False


def test_refresh_skips_the_read_and_replaces_the_entry(broker: BrokerUnderTest) -> None:
    question = "How do I merge two branches in Git?"
    first = ask(broker, "alpha", question, max_tokens=64)
    wait_stored(broker, first["id"])
    calls = provider_calls(broker)
    # max_tokens is not part of the key, but the simulator's answer depends on it: a new text
    refreshed = ask(broker, "alpha", question, max_tokens=65, cache={"mode": "refresh"})
    assert provider_calls(broker) == calls + 1
    assert refreshed["cache"] is None
    assert answer(refreshed) != answer(first)
    wait_stored(broker, refreshed["id"])

    used = ask(broker, "alpha", question, max_tokens=64)
    assert used["cache"]["hit"] is True
    assert answer(used) == answer(refreshed)


def test_truncated_answers_and_non_deterministic_requests_are_not_cached(broker: BrokerUnderTest) -> None:
    cut = ask(broker, "alpha", "Describe the refund policy in detail.", max_tokens=3)
    assert cut["result"]["choices"][0]["finish_reason"] == "length"
    warm = ask(broker, "alpha", "Tell me a story about a token bucket.", temperature=0.9)
    assert warm["cache"] is None
    settle(broker, "R2")
    stored_from = {e["source_job"] for e in cached_entries(broker)}
    assert cut["id"] not in stored_from and warm["id"] not in stored_from
    assert ask(broker, "alpha", "Describe the refund policy in detail.", max_tokens=3)["cache"]["hit"] is False


def test_a_cached_answer_longer_than_max_tokens_is_not_served(broker: BrokerUnderTest) -> None:
    first = ask(broker, "alpha", "What is your warranty on laptops?", max_tokens=200)
    entry = wait_stored(broker, first["id"])
    assert entry["completion_tokens"] > 5
    short = ask(broker, "alpha", "What is your warranty on laptops?", max_tokens=entry["completion_tokens"] - 1)
    assert short["cache"]["hit"] is False


def test_purge_by_team_over_the_api(broker: BrokerUnderTest) -> None:
    job = ask(broker, "beta", "How do I add a payment method?")
    wait_stored(broker, job["id"])
    headers = broker.headers("beta")
    assert httpx.get(f"{broker.api_url}/v1/cache", headers=headers).json()["entries"] >= 1

    refused = httpx.delete(f"{broker.api_url}/v1/cache", params={"team": "alpha"}, headers=headers)
    assert refused.status_code == 403
    refused_all = httpx.delete(f"{broker.api_url}/v1/cache", params={"all": "true"}, headers=headers)
    assert refused_all.status_code == 403

    purged = httpx.delete(f"{broker.api_url}/v1/cache", headers=headers)
    assert purged.status_code == 200 and purged.json()["purged"] >= 1 and purged.json()["owner"] == "beta"
    assert httpx.get(f"{broker.api_url}/v1/cache", headers=headers).json() == {
        "object": "cache.stats",
        "owner": "beta",
        "scopes": 0,
        "entries": 0,
    }
    assert ask(broker, "beta", "How do I add a payment method?")["cache"]["hit"] is False
    assert httpx.get(f"{broker.api_url}/v1/cache", headers=broker.headers("alpha")).json()["entries"] >= 1
