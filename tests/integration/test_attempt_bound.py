"""The attempt bound holds when the worker, not the provider, keeps failing: a job whose
worker is killed under it at its last allowed attempt fails (listed, a dead letter)
instead of being requeued for ever."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from broker import keys
from broker.budgets.counters import stats_field
from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration


def test_a_job_whose_worker_dies_at_the_attempt_limit_fails(tmp_path: Path) -> None:
    config = broker_config(
        routing={"attempts_per_candidate": 1},
        models={"gpt-4o-mini": {"fallbacks": [], "ttfb_timeout_s": 30}},
    )
    stack = start_broker(tmp_path, config, providers=["openai"])
    try:
        broker = BrokerUnderTest(stack)
        headers = broker.headers("alpha")
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "#sim(latency=5) poison"}]}
        job_id = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=headers).json()["id"]
        deadline = time.monotonic() + 30
        while broker.redis.hget(keys.job(job_id), "state") != b"running":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.02)
        stack.kill_process("worker-openai")
        stack.start_worker("openai", name="worker-openai-restarted")

        job = httpx.get(f"{broker.api_url}/v1/jobs/{job_id}", params={"wait": 60}, headers=headers, timeout=90).json()
        assert job["state"] == "failed", job
        assert [a["outcome"] for a in job["attempts"]] == ["worker_lost"]
        assert job["error"].startswith("attempt limit reached (1 of 1): #1 openai/gpt-4o-mini: worker_lost")
        letters = httpx.get(f"{broker.api_url}/v1/dead-letters", headers=headers).json()["data"]
        assert [d["job_id"] for d in letters] == [job_id]
        stream = broker.redis.xrange(keys.USAGE_STREAM)
        usage = [json.loads(f[b"record"]) for _, f in stream if f[b"job_id"] == job_id.encode()]
        assert len(usage) == 1 and usage[0]["state"] == "failed"
        # counted in the all-time stats (/metrics) like a failure a worker reports
        failed = stats_field("jobs", "alpha", "openai", "gpt-4o-mini", "failed")
        assert broker.redis.hget(keys.STATS, failed) == b"1"
    finally:
        stack.stop()
