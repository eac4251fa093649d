"""Pure parts of the drop-in endpoints: admission-wait estimate, SSE chunks, model names, the
SSRF address check, webhook retry schedule, signing and derived secrets."""

from __future__ import annotations

import ipaddress
import json
import math
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from broker.admission.estimate import BucketNow, estimate_wait_s, retry_after_s
from broker.api.chat_chunks import chunk, closing_chunks, failed_status, model_or_tier
from broker.settings import load_config, sample_config_path
from broker.webhooks.callbacks import address_allowed, split_target
from broker.webhooks.events import message_id, payload
from broker.webhooks.secrets import derive_secret, master_key
from schemas.config import WebhooksConfig
from schemas.job import Attempt
from workers.webhooks.schedule import next_attempt_at, nominal_delay_s, retry_delay_s
from workers.webhooks.signing import new_secret, sign_headers, verify


def test_no_limits_means_no_wait() -> None:
    assert estimate_wait_s([], jobs_ahead=10_000) == 0.0


def test_wait_covers_the_jobs_ahead_then_this_one() -> None:
    bucket = BucketNow(level=50, rate_per_s=10, cost=100)
    assert estimate_wait_s([bucket], 0) == pytest.approx(5.0)
    assert estimate_wait_s([bucket], 2) == pytest.approx(25.0)
    slowest = estimate_wait_s([bucket, BucketNow(level=0, rate_per_s=1, cost=1)], 0)
    assert slowest == pytest.approx(5.0)
    assert estimate_wait_s([BucketNow(level=0, rate_per_s=0, cost=1)], 0) == math.inf


@given(
    st.lists(st.tuples(st.floats(0, 1e6), st.floats(0.001, 1e4), st.floats(1, 1e5)), min_size=1, max_size=5),
    st.integers(0, 1000),
)
def test_wait_grows_with_the_queue_and_is_never_negative(buckets: list[tuple[float, float, float]], ahead: int) -> None:
    draws = [BucketNow(level, rate, cost) for level, rate, cost in buckets]
    assert 0 <= estimate_wait_s(draws, ahead) <= estimate_wait_s(draws, ahead + 1)


def test_retry_after() -> None:
    assert retry_after_s(100, 30) == 70
    assert retry_after_s(30.2, 30) == 1
    assert retry_after_s(math.inf, 30) == 3600


def test_chunks_parse_as_openai_chunks() -> None:
    first = json.loads(chunk("job_1", 5, "m", {"role": "assistant", "content": ""}).decode()[6:])
    assert first["id"] == "chatcmpl-1" and first["object"] == "chat.completion.chunk"
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    with_usage = closing_chunks("job_1", 5, "m", "stop", usage, include_usage=True)
    assert json.loads(with_usage[1].decode()[6:]) == {**first, "choices": [], "usage": usage}
    assert with_usage[-1] == b"data: [DONE]\n\n"
    plain = closing_chunks("job_1", 5, "m", "length", usage, include_usage=False)
    last = json.loads(plain[0].decode()[6:])
    assert last["choices"][0]["finish_reason"] == "length" and last["usage"] == usage


def test_failed_jobs_map_to_http_statuses() -> None:
    def attempts(*codes: int | None) -> list[Attempt]:
        return [Attempt(number=i + 1, provider="p", model="m", status_code=c) for i, c in enumerate(codes)]

    assert failed_status(attempts(400)) == 400
    assert failed_status(attempts(503, 503)) == 502
    assert failed_status(attempts(None)) == 502
    assert failed_status(attempts(429)) == 502


def test_model_names_become_tiers_unless_a_model_has_that_name() -> None:
    config = load_config(sample_config_path())
    assert model_or_tier({"model": "auto", "x": 1}, config) == {"tier": "auto", "x": 1}
    assert model_or_tier({"model": "simple"}, config) == {"tier": "simple"}
    assert model_or_tier({"model": "gpt-4o"}, config) == {"model": "gpt-4o"}


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("10.0.0.1", False),
        ("172.16.3.4", False),
        ("192.168.0.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),
        ("2001:4860:4860::8888", True),
    ],
)
def test_internal_addresses_are_refused_unless_allow_listed(address: str, allowed: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert address_allowed(ip, []) is allowed
    assert address_allowed(ip, [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")])


def test_callback_urls_must_be_plain_http() -> None:
    assert split_target("https://hooks.example.com/x") == ("hooks.example.com", 443)
    for bad in ("ftp://x/y", "http:///nohost", "http://user:pw@example.com/"):
        with pytest.raises(ValueError):
            split_target(bad)


def test_backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() -> None:
    assert [nominal_delay_s(n, 5, 3600) for n in (1, 2, 3, 12)] == [5, 10, 20, 3600]
    rng = random.Random(7)
    for n in range(1, 30):
        delay = retry_delay_s(n, 5, 3600, rng)
        assert nominal_delay_s(n, 5, 3600) / 2 <= delay <= nominal_delay_s(n, 5, 3600)
    assert next_attempt_at(0, 100, 10, 86400) == 110
    assert next_attempt_at(0, 86000, 500, 86400) is None


def test_default_schedule_gives_up_after_about_a_day() -> None:
    config = WebhooksConfig()
    at, attempts = 0.0, 0
    while at is not None:
        attempts += 1
        last = at
        at = next_attempt_at(
            0, at, nominal_delay_s(attempts, config.retry_base_s, config.retry_cap_s), config.retry_window_s
        )
    assert 20 <= attempts <= 40 and 82_000 < last <= 86_400


def test_signatures_verify_with_the_standardwebhooks_library() -> None:
    secret, other = new_secret(), new_secret()
    body = payload("job", "succeeded", {"id": "job_1"}, 1_700_000_000)
    headers = sign_headers([secret, other], message_id("job:job_1"), body)
    assert headers["webhook-id"] == "msg_job_1"
    assert Webhook(secret).verify(body, headers)["type"] == "job.succeeded"
    assert verify(other, body, headers)["data"] == {"id": "job_1"}
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)
    old = sign_headers(secret, "msg_x", body, now=datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(Exception, match="too old"):
        verify(secret, body, old)


def test_team_secrets_derive_from_the_master_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = WebhooksConfig(signing_key_env="TEST_WEBHOOK_KEY")
    made = master_key(config, tmp_path, environ={})
    assert made == master_key(config, tmp_path, environ={})  # made once, then read
    assert (tmp_path / "secrets" / "webhook-signing.key").stat().st_mode & 0o777 == 0o600
    assert master_key(config, tmp_path, environ={"TEST_WEBHOOK_KEY": "from-env"}) == b"from-env"
    a1, a2, b1 = derive_secret(made, "a", 1), derive_secret(made, "a", 2), derive_secret(made, "b", 1)
    assert len({a1, a2, b1}) == 3 and a1 == derive_secret(made, "a", 1)
    Webhook(a1)  # a valid Standard Webhooks secret
