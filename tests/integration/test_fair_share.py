"""Fair share: team A's 5,000-job backlog does not starve team B's single job."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from broker import keys
from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration

INPUT_TPM = 60_000  # the shared model admits 1,000 input tokens/s: A's backlog takes about a minute


def test_one_job_of_team_b_is_admitted_before_team_as_backlog_drains(tmp_path: Path) -> None:
    config = broker_config(
        models={"gpt-4o-mini": {"limits": {"input_tpm": INPUT_TPM, "input_burst": 2_000}}},
    )
    stack = start_broker(tmp_path, config=config, providers=["openai"])
    try:
        broker = BrokerUnderTest(stack)
        backlog = tmp_path / "backlog.jsonl"
        line = {"model": "gpt-4o-mini", "max_tokens": 16, "messages": [{"role": "user", "content": "backlog item"}]}
        backlog.write_text("\n".join(json.dumps(line) for _ in range(5000)))
        submitted = subprocess.run(
            [sys.executable, "-m", "broker.cli.main", "submit", str(backlog), "--team", "alpha"],
            env=stack.child_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        assert json.loads(submitted.stdout.strip().splitlines()[-1])["submitted"] == 5000
        depth_before = broker.redis.zcard(keys.team_queue("alpha"))
        assert depth_before > 2000, "the backlog drained before B arrived: make the limit tighter"

        body = {"model": "gpt-4o-mini", "max_tokens": 16, "messages": [{"role": "user", "content": "just me"}]}
        job_id = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=broker.headers("beta")).json()["id"]
        deadline = time.monotonic() + 30
        while broker.redis.hget(keys.job(job_id), "state") == b"queued":
            assert time.monotonic() < deadline, "B's job was never admitted"
            time.sleep(0.01)
        depth_at_admission = broker.redis.zcard(keys.team_queue("alpha"))
        fields = {k.decode(): v.decode() for k, v in broker.redis.hgetall(keys.job(job_id)).items()}
        waited = float(fields["admitted_at"]) - float(fields["created_at"])
        refill_interval = (int(fields["input_tokens"]) + 16) / (INPUT_TPM / 60)  # seconds to refill B's cost
        print(f"B waited {waited * 1000:.1f} ms (refill {refill_interval * 1000:.1f} ms); A: {depth_at_admission}")
        assert depth_at_admission > 1000, "A's queue drained first"
        # one refill interval plus the scheduler's own turnaround on a loaded 2-core machine
        assert waited < refill_interval + 0.5, f"B waited {waited:.3f}s"
    finally:
        stack.stop()
