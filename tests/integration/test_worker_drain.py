"""A worker stopped with SIGTERM (warm shutdown) lets its calls in flight finish."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration


def test_warm_shutdown_finishes_calls_in_flight(tmp_path: Path) -> None:
    config = broker_config(
        worker={"lease_ttl_s": 60.0, "drain_timeout_s": 20.0},  # the reaper would be too slow
        models={"gpt-4o-mini": {"ttfb_timeout_s": 30}},  # the 3 s answer is slow on purpose
    )
    stack = start_broker(tmp_path, config=config, providers=["openai"])
    try:
        broker = BrokerUnderTest(stack)
        headers = broker.headers("alpha")
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "#sim(latency=3) finish me"}]}
        ids = [httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers).json()["id"] for _ in range(5)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = [httpx.get(f"{broker.api_url}/v1/jobs/{i}", headers=headers).json()["state"] for i in ids]
            if all(s == "running" for s in states):
                break
            time.sleep(0.05)
        started = time.monotonic()
        stack.stop_process("worker-openai")  # SIGTERM, waits for the process to exit
        assert time.monotonic() - started < 25
        for job_id in ids:
            job = httpx.get(f"{broker.api_url}/v1/jobs/{job_id}", headers=headers).json()
            assert job["state"] == "succeeded", job
            assert [a["outcome"] for a in job["attempts"]] == ["succeeded"]
    finally:
        stack.stop()
