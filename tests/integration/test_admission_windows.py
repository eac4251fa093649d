"""Four schedulers, two teams, two minutes: in every sliding 60 s window the tokens admitted
for a team (reservations minus refunds) stay within its per-minute limit plus its burst, on
both the input and the output bucket, and every job completes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from broker import keys
from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIMITS = {
    "alpha": {"input_tpm": 3000, "input_burst": 1000, "output_tpm": 12_000, "output_burst": 4000},
    "beta": {"input_tpm": 2000, "input_burst": 2000, "output_tpm": 6000, "output_burst": 1000},
}
JOBS = {"alpha": 420, "beta": 300}  # each about twice what its input limit admits in the first minute
MAX_TOKENS = 200
SUBMIT_OVER_S = 60.0


async def submit_team(broker: BrokerUnderTest, team: str, count: int) -> list[str]:
    headers = broker.headers(team)
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=broker.api_url, headers=headers, timeout=60) as client:
        for i in range(count):
            body = {
                "model": "gpt-4o-mini",
                "max_tokens": MAX_TOKENS,
                "messages": [{"role": "user", "content": f"#sim(latency=0.5) window test {team} {i}"}],
            }
            ids.append((await client.post("/v1/jobs", json=body)).json()["id"])
            await asyncio.sleep(SUBMIT_OVER_S / count)
    return ids


def max_window(events: list[tuple[float, float]], window: float = 60.0) -> float:
    """Largest net sum of (time, tokens) events inside any window [t, t + window]."""
    events = sorted(events)
    best = 0.0
    for i, (start, _) in enumerate(events):
        total = sum(tokens for t, tokens in events[i:] if t <= start + window)
        best = max(best, total)
    return best


def test_four_schedulers_never_admit_more_than_limit_plus_burst(tmp_path: Path) -> None:
    config = broker_config(teams={team: {"limits": limits} for team, limits in LIMITS.items()})
    stack = start_broker(tmp_path, config=config, providers=["openai"])
    try:
        for n in range(1, 4):
            stack.start_scheduler(name=f"scheduler-{n}")
        broker = BrokerUnderTest(stack)

        async def submit_all() -> dict[str, list[str]]:
            lists = await asyncio.gather(*(submit_team(broker, team, n) for team, n in JOBS.items()))
            return dict(zip(JOBS, lists, strict=True))

        ids = asyncio.run(submit_all())
        deadline = time.monotonic() + 240
        pending = {job_id for team_ids in ids.values() for job_id in team_ids}
        while pending and time.monotonic() < deadline:
            states = {j: broker.redis.hget(keys.job(j), "state") for j in pending}
            pending = {j for j, s in states.items() if s not in (b"succeeded", b"failed", b"cancelled")}
            time.sleep(1)
        assert not pending, f"{len(pending)} jobs never finished"

        for team, team_ids in ids.items():
            inputs: list[tuple[float, float]] = []
            outputs: list[tuple[float, float]] = []
            for job_id in team_ids:
                job = {k.decode(): v.decode() for k, v in broker.redis.hgetall(keys.job(job_id)).items()}
                assert job["state"] == "succeeded", job
                assert job["attempt"] == "1"  # no requeue: one admission per job
                admitted, finished = float(job["admitted_at"]), float(job["finished_at"])
                used_out = int(job["usage"].split('"output_tokens":')[1].split(",")[0])
                inputs.append((admitted, float(job["input_tokens"])))
                outputs.append((admitted, float(MAX_TOKENS)))
                outputs.append((finished, -float(MAX_TOKENS - used_out)))  # the refund at settlement
            limits = LIMITS[team]
            peak_in, peak_out = max_window(inputs), max_window(outputs)
            assert peak_in <= limits["input_tpm"] + limits["input_burst"], (team, peak_in)
            assert peak_out <= limits["output_tpm"] + limits["output_burst"], (team, peak_out)
            # and the limits were really binding: the input window came close to its bound
            assert peak_in >= 0.8 * (limits["input_tpm"] + limits["input_burst"]), (team, peak_in)
    finally:
        stack.stop()
