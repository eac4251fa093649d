"""A worker killed with SIGKILL in the middle of a provider call loses nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from broker import keys
from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration


def wait_for_state(broker: BrokerUnderTest, job_id: str, headers: dict[str, str], state: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(f"{broker.api_url}/v1/jobs/{job_id}", headers=headers).json()["state"] == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {state}")


def test_worker_killed_mid_call_job_is_redelivered_and_recorded_once(tmp_path: Path) -> None:
    # a slow first byte here is the point, not a hang: keep the TTFB deadline out of the way
    config = broker_config(models={"gpt-4o-mini": {"ttfb_timeout_s": 30}})
    stack = start_broker(tmp_path, config, providers=["openai"])
    try:
        broker = BrokerUnderTest(stack)
        headers = broker.headers("alpha")
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "#sim(latency=4) survive me"}]}
        job_id = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers).json()["id"]
        wait_for_state(broker, job_id, headers, "running")
        time.sleep(0.3)  # the call is now in flight at the simulated provider
        stack.kill_process("worker-openai")
        stack.start_worker("openai", name="worker-openai-restarted")

        job = httpx.get(f"{broker.api_url}/v1/jobs/{job_id}", params={"wait": 60}, headers=headers, timeout=90).json()
        assert job["state"] == "succeeded", job
        assert [a["outcome"] for a in job["attempts"]] == ["worker_lost", "succeeded"]
        assert [a["number"] for a in job["attempts"]] == [1, 2]
        time.sleep(1.0)  # any duplicate completion would have landed by now
        usage_rows = [
            json.loads(fields[b"record"])
            for _, fields in broker.redis.xrange(keys.USAGE_STREAM)
            if fields[b"job_id"].decode() == job_id
        ]
        assert len(usage_rows) == 1
        assert usage_rows[0]["state"] == "succeeded" and usage_rows[0]["attempt"] == 2
        stats = httpx.get(f"{stack.simulator_url}/_sim/stats").json()
        assert stats["total"] == 2, stats  # the lost call and the one that finished
    finally:
        stack.stop()
