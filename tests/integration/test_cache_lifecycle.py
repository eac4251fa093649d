"""A missing or dead cache worker costs latency, never a job or an answer."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from broker import keys
from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration


def test_without_a_cache_worker_jobs_are_sent_on_and_answers_wait_to_be_stored(tmp_path: Path) -> None:
    config = broker_config(cache={"enabled": True, "lookup_timeout_s": 1.5})
    stack = start_broker(tmp_path, config, providers=["openai"])  # no cache worker yet
    try:
        broker = BrokerUnderTest(stack)
        headers = {**broker.headers("alpha"), "Prefer": "wait=60"}
        body = {
            "model": "gpt-4o-mini",
            "temperature": 0,
            "messages": [{"role": "user", "content": "How do I book annual leave?"}],
        }
        first = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers, timeout=90).json()
        assert first["state"] == "succeeded", first
        assert first["cache"] == {
            "hit": False,
            "layer": None,
            "similarity": None,
            "entry": None,
            "reason": "lookup timed out",
        }
        assert broker.redis.zcard(keys.CACHE_PENDING) == 0
        # the lookup and the store wait in the cache queue: a late lookup changes nothing, the
        # store is done once a cache worker runs, and the next ask is answered from it
        stack.start_cache_worker()
        deadline = time.monotonic() + 90
        while not list(broker.redis.scan_iter(match=keys.CACHE_ENTRY_PREFIX + "*")):
            assert time.monotonic() < deadline, "the queued store never ran"
            time.sleep(0.2)
        calls = httpx.get(f"{stack.simulator_url}/_sim/stats").json()["total"]
        again = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers, timeout=90).json()
        assert again["cache"]["hit"] is True and again["cache"]["layer"] == "exact"
        assert httpx.get(f"{stack.simulator_url}/_sim/stats").json()["total"] == calls
        assert httpx.get(f"{broker.api_url}/v1/jobs/{first['id']}", headers=headers).json()["state"] == "succeeded"
    finally:
        stack.stop()
