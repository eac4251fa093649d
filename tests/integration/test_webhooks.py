"""Signed webhooks end to end: a real receiver verifies every delivery with the
``standardwebhooks`` library; retries with backoff until it answers; dead letters and their
redelivery; delivery history; batch webhooks; secret rotation; the SSRF guard at submit."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import openai
import pytest
from standardwebhooks import Webhook

from scripts.embedded_redis import free_port
from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration
WAIT = {"Prefer": "wait=30"}


class Receiver:
    """Records every delivery; ``/flaky`` fails each event's first 3, ``/down`` fails while down."""

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self.seen: dict[str, int] = defaultdict(int)
        self.down = True
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.seen[headers["webhook-id"]] += 1
                    count = receiver.seen[headers["webhook-id"]]
                    fail = (self.path == "/flaky" and count <= 3) or (self.path == "/down" and receiver.down)
                    receiver.deliveries.append(
                        {"path": self.path, "headers": headers, "body": body, "status": 500 if fail else 200}
                    )
                self.send_response(500 if fail else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def of(self, webhook_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [d for d in self.deliveries if d["headers"]["webhook-id"] == webhook_id]

    def accepted(self, path: str) -> dict[str, dict[str, Any]]:
        """Events delivered successfully, deduplicated by webhook-id (what a receiver keeps)."""
        with self.lock:
            return {d["headers"]["webhook-id"]: d for d in self.deliveries if d["path"] == path and d["status"] == 200}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    config = broker_config(
        webhooks={
            "allow_networks": ["127.0.0.0/8"],
            "retry_base_s": 0.2,
            "retry_cap_s": 1.0,
            "retry_window_s": 6.0,
            "timeout_s": 5.0,
        }
    )
    stack = start_broker(tmp_path_factory.mktemp("webhooks"), config=config, providers=["openai"])
    try:
        stack.start_webhook_worker()
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


def until(condition: Any, timeout_s: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def job(broker: BrokerUnderTest, headers: dict[str, str], url: str, text: str = "hello") -> dict[str, Any]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "callback_url": url}
    response = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers={**headers, **WAIT}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_receiver_that_fails_three_times_gets_the_event_once_later(
    broker: BrokerUnderTest, receiver: Receiver
) -> None:
    headers = broker.headers("alpha")
    secret = httpx.get(f"{broker.api_url}/v1/webhooks/secret", headers=headers).json()["secret"]
    done = job(broker, headers, receiver.url("/flaky"))
    webhook_id = "msg_" + done["id"]
    until(lambda: webhook_id in receiver.accepted("/flaky"), what="the fourth delivery")
    deliveries = receiver.of(webhook_id)
    assert [d["status"] for d in deliveries] == [500, 500, 500, 200]
    stamps = [int(d["headers"]["webhook-timestamp"]) for d in deliveries]
    assert stamps == sorted(stamps)
    for delivery in deliveries:  # each retry is signed afresh and verifies with a stock library
        event = Webhook(secret).verify(delivery["body"], delivery["headers"])
        assert event["type"] == "job.succeeded" and event["data"]["id"] == done["id"]
        assert event["data"]["result"]["choices"][0]["message"]["content"]
    assert len({d["body"] for d in deliveries}) == 1  # the same event every time

    history = httpx.get(f"{broker.api_url}/v1/jobs/{done['id']}/webhooks", headers=headers).json()
    assert history["state"] == "delivered" and history["id"] == webhook_id
    assert [a["status_code"] for a in history["attempts"]] == [500, 500, 500, 200]
    gaps = [b["at"] - a["at"] for a, b in zip(history["attempts"], history["attempts"][1:], strict=False)]
    assert gaps[1] >= 0.2 and gaps[2] >= 0.4  # backoff: at least half the doubled nominal delay
    time.sleep(1.5)
    assert len(receiver.of(webhook_id)) == 4  # nothing after the success


def test_given_up_events_are_dead_letters_and_can_be_sent_again(broker: BrokerUnderTest, receiver: Receiver) -> None:
    headers = broker.headers("alpha")
    done = job(broker, headers, receiver.url("/down"), "down")
    webhook_id = "msg_" + done["id"]

    def dead() -> list[dict[str, Any]]:
        rows = httpx.get(f"{broker.api_url}/v1/webhooks/dead_letters", headers=headers).json()["data"]
        return [r for r in rows if r["id"] == webhook_id]

    [letter] = until(dead, what="the dead letter")
    assert letter["state"] == "dead" and len(letter["attempts"]) >= 3
    assert all(a["status_code"] == 503 or a["status_code"] == 500 for a in letter["attempts"])
    assert httpx.get(f"{broker.api_url}/v1/webhooks/dead_letters", headers=broker.headers("beta")).json()["data"] == []

    receiver.down = False
    again = httpx.post(f"{broker.api_url}/v1/webhooks/dead_letters/{webhook_id}/retry", headers=headers)
    assert again.status_code == 200 and again.json()["state"] == "pending"
    until(lambda: webhook_id in receiver.accepted("/down"), what="the redelivery")
    assert not dead()


def test_a_batch_webhook_arrives_when_the_batch_ends(broker: BrokerUnderTest, receiver: Receiver) -> None:
    key = broker.key("beta")
    secret = httpx.get(f"{broker.api_url}/v1/webhooks/secret", headers={"Authorization": f"Bearer {key}"}).json()
    client = openai.OpenAI(base_url=f"{broker.api_url}/v1", api_key=key, max_retries=0)
    lines = [
        json.dumps(
            {
                "custom_id": f"r{i}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"item {i}"}]},
            }
        )
        for i in range(5)
    ]
    uploaded = client.files.create(file=("b.jsonl", "\n".join(lines).encode()), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        extra_body={"callback_url": receiver.url("/batch")},
    )
    webhook_id = "msg_" + batch.id
    delivery = until(lambda: receiver.accepted("/batch").get(webhook_id), what="the batch webhook")
    event = Webhook(secret["secret"]).verify(delivery["body"], delivery["headers"])
    assert event["type"] == "batch.completed"
    assert event["data"]["request_counts"] == {"total": 5, "completed": 5, "failed": 0}
    assert event["data"]["output_file_id"]
    with pytest.raises(openai.UnprocessableEntityError):
        client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            extra_body={"callback_url": "http://10.0.0.7/hook"},
        )


def test_after_a_rotation_both_secrets_verify(broker: BrokerUnderTest, receiver: Receiver) -> None:
    headers = broker.headers("alpha")
    old = httpx.get(f"{broker.api_url}/v1/webhooks/secret", headers=headers).json()["secret"]
    new = httpx.post(f"{broker.api_url}/v1/webhooks/secret/rotate", headers=headers).json()["secret"]
    assert new != old and new.startswith("whsec_")
    done = job(broker, headers, receiver.url("/ok"))
    delivery = until(lambda: receiver.accepted("/ok").get("msg_" + done["id"]), what="the delivery")
    for secret in (old, new):
        Webhook(secret).verify(delivery["body"], delivery["headers"])
    assert len(delivery["headers"]["webhook-signature"].split(" ")) == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",  # private
        "http://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "http://[::1]:8080/hook",  # loopback, but only 127.0.0.0/8 is allow-listed
        "http://192.168.1.20/x",
        "ftp://example.com/x",
    ],
)
def test_callbacks_to_internal_addresses_are_refused_at_submit(broker: BrokerUnderTest, url: str) -> None:
    headers = broker.headers("alpha")
    before = broker.redis_keys()
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "callback_url": url}
    response = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == "callback_url"
    broker.assert_no_state_change(before)
