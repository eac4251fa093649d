"""Webhook signing (checked with the standardwebhooks library), alert bodies, and the
Prometheus families built from a metrics snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook

from broker.budgets.counters import NANO
from broker.budgets.policy import Budget, evaluate
from broker.budgets.store import alert_payload
from broker.metrics import MetricsSnapshot, SnapshotCollector
from workers.alerts import backoff_s, webhook_body
from workers.webhooks.signing import WebhookVerificationError, new_secret, sign_headers, verify


def test_signed_headers_verify_with_the_reference_library() -> None:
    secret = new_secret()
    body = json.dumps({"type": "budget.threshold_crossed", "data": {"team": "a"}})
    headers = sign_headers(secret, "alert_1", body)
    assert set(headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["data"]["team"] == "a"
    assert verify(secret, body.encode(), headers)["type"] == "budget.threshold_crossed"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers, secret: (body.replace("a", "b"), headers, secret),
        lambda body, headers, secret: (body, {**headers, "webhook-id": "alert_2"}, secret),
        lambda body, headers, secret: (body, headers, new_secret()),
    ],
)
def test_tampering_fails_verification(tamper) -> None:
    secret = new_secret()
    body = json.dumps({"data": {"team": "a"}})
    body, headers, secret = tamper(body, sign_headers(secret, "alert_1", body), secret)
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, headers)


def test_old_signatures_are_refused() -> None:
    secret = new_secret()
    headers = sign_headers(secret, "alert_1", "{}", now=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, "{}", headers)


def alert() -> dict:
    state = evaluate(Budget("alpha", "search", 10.0, (0.5, 0.8, 1.0), "block"), 8.5)
    return alert_payload(state, 0.8, "2026-11", 1795000000.0)


def test_alert_payload_names_scope_threshold_and_is_stable() -> None:
    a = alert()
    assert a["team"] == "alpha" and a["feature"] == "search" and a["threshold_percent"] == 80
    assert "alpha/search" in a["message"] and "$8.50" in a["message"] and "80 %" in a["message"]
    assert a["id"] == alert()["id"]  # a redelivery carries the same webhook-id


def test_webhook_bodies_standard_and_slack() -> None:
    standard = json.loads(webhook_body(alert(), "standard"))
    assert standard["type"] == "budget.threshold_crossed" and standard["timestamp"].endswith("Z")
    assert standard["data"]["threshold"] == 0.8
    slack = json.loads(webhook_body(alert(), "slack"))
    assert slack["text"] == alert()["message"] and slack["blocks"][0]["type"] == "section"
    assert [backoff_s(n) for n in (1, 2, 3, 20)] == [1, 2, 4, 300]


def test_metrics_families_from_a_snapshot() -> None:
    def s(*parts: str) -> tuple[str, ...]:
        return parts

    snap = MetricsSnapshot(
        stats={
            s("jobs", "a", "openai", "m", "succeeded"): 7,
            s("input_tokens", "a", "openai", "m"): 700,
            s("output_tokens", "a", "openai", "m"): 70,
            s("cost_nusd", "a", "openai", "m"): int(1.25 * NANO),
            s("cache_hits", "a", "openai", "m"): 2,
            s("cache_saved_nusd", "a", "openai", "m"): int(0.5 * NANO),
            s("provider_errors", "openai", "m", "503"): 3,
            s("admission_wait_bucket", "a", "0.5"): 4,
            s("admission_wait_bucket", "a", "1.0"): 5,
            s("admission_wait_count", "a"): 6,
            s("admission_wait_sum_ms", "a"): 4000,
        },
        queue_depth={"a": 3, "b": 0},
        running=2,
        budgets=[
            {"team": "a", "feature": None, "spend_usd": 1.25, "budget_usd": 2.0, "policy": "block", "action": "run"}
        ],
        drift=[{"team": "a", "feature": None, "drift_usd": 0.0}],
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap))
    text = generate_latest(registry).decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    labels = (("model", "m"), ("provider", "openai"), ("team", "a"))
    assert samples[("llm_broker_jobs_finished_total", (*labels[:2], ("state", "succeeded"), labels[2]))] == 7
    assert samples[("llm_broker_cost_usd_total", labels)] == 1.25
    assert samples[("llm_broker_tokens_total", (("direction", "input"), *labels))] == 700
    assert samples[("llm_broker_cache_hits_total", labels)] == 2
    assert samples[("llm_broker_queue_depth", (("team", "a"),))] == 3
    assert samples[("llm_broker_jobs", (("state", "queued"),))] == 3
    assert (
        samples[("llm_broker_provider_errors_total", (("model", "m"), ("provider", "openai"), ("status", "503")))] == 3
    )
    assert samples[("llm_broker_admission_wait_seconds_count", (("team", "a"),))] == 6
    assert samples[("llm_broker_admission_wait_seconds_bucket", (("le", "0.5"), ("team", "a")))] == 4
    assert samples[("llm_broker_admission_wait_seconds_sum", (("team", "a"),))] == 4.0
    assert samples[("llm_broker_budget_spend_usd", (("feature", ""), ("team", "a")))] == 1.25
