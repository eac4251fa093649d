"""Jobs by template end to end: real API, scheduler, Celery workers, simulated providers over
the SDKs, the usage sink writing Parquet, and the version report read back with DuckDB."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker import keys
from tests.conftest import BrokerUnderTest, start_broker

pytestmark = pytest.mark.integration
WAIT = {"Prefer": "wait=60"}
JOBS = 40

SUMMARIZE_V1 = {
    "messages": [
        {"role": "system", "content": "Summarize for a {{audience}} reader."},
        {"role": "user", "content": "{{text}}"},
    ],
    "variables": [
        {"name": "audience", "type": "enum", "allowed": ["general", "expert"]},
        {"name": "text", "max_length": 2000},
    ],
    "model": "gpt-4o-mini",
    "params": {"max_tokens": 8},
    "note": "first cut",
}
SUMMARIZE_V2 = {
    **SUMMARIZE_V1,
    "messages": [
        {"role": "system", "content": "You write careful summaries. Summarize for a {{ audience }} reader, in full."},
        {"role": "user", "content": "{{text}}"},
    ],
    "params": {"max_tokens": 16, "temperature": 0.1},
    "note": "longer answers",
}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    stack = start_broker(tmp_path_factory.mktemp("prompt-jobs"), sink=True)
    try:
        under_test = BrokerUnderTest(stack)
        alpha = under_test.headers("alpha")
        for body in (SUMMARIZE_V1, SUMMARIZE_V2):
            response = httpx.post(f"{under_test.api_url}/v1/prompts/summarize/versions", json=body, headers=alpha)
            assert response.status_code == 201, response.text
        yield under_test
    finally:
        stack.stop()


def job_body(subject: str, text: str, **prompt: Any) -> dict[str, Any]:
    variables = {"audience": "general", "text": text}
    return {
        "prompt": {"id": "summarize", "subject": subject, "variables": variables, **prompt},
        "metadata": {"feature": "digest"},
    }


async def submit_all(api_url: str, headers: dict[str, str], bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=api_url, headers={**headers, **WAIT}, timeout=120) as client:
        limit = asyncio.Semaphore(10)

        async def one(body: dict[str, Any]) -> dict[str, Any]:
            async with limit:
                response = await client.post("/v1/jobs", json=body)
                assert response.status_code == 200, response.text
                return response.json()  # type: ignore[no-any-return]

        return await asyncio.gather(*(one(body) for body in bodies))


def wait_for_report(broker: BrokerUnderTest, headers: dict[str, str], jobs: int, scored: int) -> dict[str, Any]:
    """Poll the report until the sink has written every job's usage and feedback."""
    deadline = time.monotonic() + 90
    while True:
        report = httpx.get(f"{broker.api_url}/v1/prompts/summarize/report", headers=headers, timeout=30).json()
        rows = report["versions"]
        if sum(r["jobs"] for r in rows) >= jobs and sum(r["scored"] for r in rows) >= scored:
            return report  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"ledger never caught up: {report}"
        time.sleep(0.5)


def cli(broker: BrokerUnderTest, *args: str, group: str = "prompts") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broker.cli.main", *([group] if group else []), *args],
        env=broker.stack.child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_template_jobs_run_and_the_report_shows_each_versions_cost_and_outcome(broker: BrokerUnderTest) -> None:
    alpha = broker.headers("alpha")
    diff = httpx.get(f"{broker.api_url}/v1/prompts/summarize/diff", params={"from": 1, "to": 2}, headers=alpha)
    assert "-params.max_tokens: 8" in diff.text and "+params.max_tokens: 16" in diff.text
    fifty_fifty = {"weights": {"1": 50, "2": 50}}
    split = httpx.put(f"{broker.api_url}/v1/prompts/summarize/split", json=fifty_fifty, headers=alpha)
    assert split.json()["split"] == {"1": 50.0, "2": 50.0}

    bodies = [job_body(f"reader-{i}", f"Article {i} explains token buckets and fair queues.") for i in range(JOBS)]
    jobs = asyncio.run(submit_all(broker.api_url, alpha, bodies))
    by_version: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for i, job in enumerate(jobs):
        assert job["state"] == "succeeded", job
        assert job["template_id"] == "alpha/summarize"
        assigned = httpx.get(
            f"{broker.api_url}/v1/prompts/summarize/assignment", params={"subject": f"reader-{i}"}, headers=alpha
        ).json()
        assert job["template_version"] == assigned["version"]
        usage = job["usage"]
        assert (usage["template_id"], usage["template_version"]) == ("alpha/summarize", assigned["version"])
        assert job["usage"]["output_tokens"] == (8 if assigned["version"] == 1 else 16)
        by_version[job["template_version"]].append(job)
    assert by_version[1] and by_version[2], "a 50/50 split over 40 subjects used both versions"

    stored = json.loads(broker.redis.hget(keys.job(jobs[0]["id"]), "request"))
    assert "prompt" not in stored and "{{" not in json.dumps(stored)
    assert stored["messages"][1]["content"] == "Article 0 explains token buckets and fair queues."
    assert stored["metadata"]["feature"] == "digest"

    # outcome scores: v2 is better by 0.2; the first post of each job is corrected by a second one
    expected_score = {1: [], 2: []}
    for i, job in enumerate(jobs):
        url = f"{broker.api_url}/v1/jobs/{job['id']}/feedback"
        score = (0.55 if job["template_version"] == 1 else 0.75) + 0.05 * (i % 3)
        assert httpx.post(url, json={"score": -100.0}, headers=alpha).status_code == 200
        posted = httpx.post(url, json={"score": score, "label": "rated"}, headers=alpha)
        assert posted.status_code == 200, posted.text
        assert posted.json()["template_version"] == job["template_version"]
        expected_score[job["template_version"]].append(score)

    report = wait_for_report(broker, alpha, JOBS, JOBS)
    assert report["template_id"] == "alpha/summarize" and report["baseline"] == 1
    rows = {row["version"]: row for row in report["versions"]}
    assert set(rows) == {1, 2}
    for version, row in rows.items():
        mine = by_version[version]
        assert row["jobs"] == len(mine) and row["failed"] == 0 and row["failure_rate"] == 0
        assert row["cost_usd"] == pytest.approx(sum(j["usage"]["cost_usd"] for j in mine), rel=1e-6)
        assert row["output_tokens"] == sum(j["usage"]["output_tokens"] for j in mine)
        assert row["cache_hit_rate"] == 0 and row["mean_latency_ms"] > 0
        assert row["scored"] == len(mine)
        assert row["mean_score"] == pytest.approx(sum(expected_score[version]) / len(mine))
    assert rows[2]["cost_per_job_usd"] > rows[1]["cost_per_job_usd"] > 0
    assert rows[1]["score_diff"] is None
    assert rows[2]["score_diff"] == pytest.approx(0.2, abs=0.03)
    assert 0 < rows[2]["score_diff_low"] < 0.2 < rows[2]["score_diff_high"]

    printed = cli(broker, "report", "alpha/summarize", "--format", "json")
    assert printed.returncode == 0, printed.stderr
    from_cli = json.loads(printed.stdout)
    assert [row["version"] for row in from_cli["versions"]] == [1, 2]
    for ours, theirs in zip(from_cli["versions"], report["versions"], strict=True):
        for key, value in theirs.items():  # DuckDB may sum in another order: compare numbers closely
            assert ours[key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float) else value), key
    table = cli(broker, "report", "summarize", "--team", "alpha")
    assert table.returncode == 0 and "v2" in table.stdout and "score diff" in table.stdout


def test_bad_template_input_is_a_4xx_naming_the_field_and_stores_nothing(broker: BrokerUnderTest) -> None:
    alpha = broker.headers("alpha")
    good = {"audience": "general", "text": "ok"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"audience": "general"}, 422, "prompt.variables.text"),
        ({**good, "shell": "rm -rf"}, 422, "prompt.variables.shell"),
        ({**good, "audience": 3}, 422, "prompt.variables.audience"),
        ({**good, "audience": "root"}, 422, "prompt.variables.audience"),
        ({**good, "text": "x" * 2001}, 422, "prompt.variables.text"),
        ({**good, "text": "x" * 1_000_000}, 422, "prompt.variables.text"),
        ({**good, "text": "nul\x00"}, 422, "prompt.variables.text"),
    ]
    before = broker.redis_keys()
    for variables, status, param in cases:
        body = {"prompt": {"id": "summarize", "variables": variables}}
        response = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=alpha, timeout=30)
        assert response.status_code == status, (param, response.text[:300])
        assert response.json()["error"]["param"] == param
    others = [
        ({"prompt": {"id": "nope", "variables": good}}, 404, "prompt.id"),
        ({"prompt": {"id": "summarize", "version": 9, "variables": good}}, 404, "prompt.version"),
        (
            {"prompt": {"id": "summarize", "variables": good}, "messages": [{"role": "user", "content": "x"}]},
            422,
            "prompt",
        ),
    ]
    for body, status, param in others:
        response = httpx.post(f"{broker.api_url}/v1/jobs", json=body, headers=alpha, timeout=30)
        assert (response.status_code, response.json()["error"]["param"]) == (status, param), response.text
    broker.assert_no_state_change(before)

    hostile = "{{audience}} {0.__class__} {% if x %}{{ 7*7 }}{% endif %} ${HOME}"
    job = httpx.post(
        f"{broker.api_url}/v1/jobs",
        json={"prompt": {"id": "summarize", "version": 1, "variables": {**good, "text": hostile}}},
        headers={**alpha, **WAIT},
        timeout=120,
    ).json()
    assert job["state"] == "succeeded" and job["template_version"] == 1
    stored = json.loads(broker.redis.hget(keys.job(job["id"]), "request"))
    assert stored["messages"][1]["content"] == hostile


def test_other_teams_can_neither_read_use_nor_score_until_shared(broker: BrokerUnderTest) -> None:
    alpha, beta = broker.headers("alpha"), broker.headers("beta")
    url = f"{broker.api_url}/v1/prompts"
    theirs = {"prompt": {"id": "alpha/summarize", "version": 1, "variables": {"audience": "expert", "text": "t"}}}
    alpha_job = httpx.post(f"{broker.api_url}/v1/jobs", json=theirs, headers={**alpha, **WAIT}, timeout=120).json()
    assert alpha_job["state"] == "succeeded", alpha_job

    assert httpx.get(f"{url}/summarize", params={"owner": "alpha"}, headers=beta).status_code == 404
    assert httpx.get(f"{url}/summarize", headers=beta).status_code == 404
    assert httpx.get(f"{url}/summarize/report", headers=beta).status_code == 404
    refused = httpx.post(f"{broker.api_url}/v1/jobs", json=theirs, headers=beta)
    assert (refused.status_code, refused.json()["error"]["param"]) == (404, "prompt.id")
    feedback = httpx.post(f"{broker.api_url}/v1/jobs/{alpha_job['id']}/feedback", json={"score": 1}, headers=beta)
    assert feedback.status_code == 404
    assert httpx.get(url, headers=beta).json()["data"] == []

    shared = httpx.put(f"{url}/summarize/shared_with", json={"teams": ["beta"]}, headers=alpha)
    assert shared.json()["shared_with"] == ["beta"]
    shown = httpx.get(f"{url}/summarize", params={"owner": "alpha"}, headers=beta)
    assert shown.status_code == 200 and shown.json()["id"] == "alpha/summarize"
    used = httpx.post(f"{broker.api_url}/v1/jobs", json=theirs, headers={**beta, **WAIT}, timeout=120).json()
    assert (used["state"], used["team"], used["template_id"]) == ("succeeded", "beta", "alpha/summarize")
    assert httpx.put(f"{url}/summarize/split", json={"weights": {"1": 100}}, headers=beta).status_code == 404
    assert httpx.post(f"{url}/summarize/versions/1/retire", headers=beta).status_code == 404


def test_the_cli_publishes_shows_diffs_splits_and_retires(broker: BrokerUnderTest, tmp_path: Path) -> None:
    first, second = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    first.write_text(
        "messages:\n  - role: user\n    content: 'Triage this ticket: {{ticket}}'\n"
        "variables:\n  - {name: ticket, max_length: 500}\ntier: simple\nnote: baseline\n"
    )
    second.write_text(
        "messages:\n  - role: user\n    content: 'Triage this ticket, naming its queue: {{ticket}}'\n"
        "variables:\n  - {name: ticket, max_length: 500}\ntier: simple\nnote: names the queue\n"
    )
    assert cli(broker, "publish", "triage", str(first), "--team", "alpha", "--author", "ada").stdout.strip() == (
        "published alpha/triage v1"
    )
    assert "v2" in cli(broker, "publish", "triage", str(second), "--team", "alpha").stdout
    diff = cli(broker, "diff", "triage", "1", "2", "--team", "alpha").stdout
    assert "-    Triage this ticket: {{ticket}}" in diff
    assert "+    Triage this ticket, naming its queue: {{ticket}}" in diff
    assert cli(broker, "split", "triage", "1=70", "2=30", "--team", "alpha").returncode == 0
    bad = cli(broker, "split", "triage", "1=70", "2=20", "--team", "alpha")
    assert bad.returncode != 0 and "100" in bad.stderr
    conflict = cli(broker, "retire", "triage", "1", "--team", "alpha")
    assert conflict.returncode == 1 and "split" in conflict.stderr
    assert cli(broker, "split", "triage", "--clear", "--team", "alpha").returncode == 0
    assert cli(broker, "retire", "triage", "1", "--team", "alpha").returncode == 0
    shown = json.loads(cli(broker, "show", "triage", "--team", "alpha").stdout)
    versions = [(v["version"], v["retired"], v["author"]) for v in shown["versions"]]
    assert versions == [(1, True, "ada"), (2, False, "cli")]
    assert shown["split"] is None
    one = cli(broker, "show", "triage", "--team", "alpha", "--version", "1").stdout
    assert "(retired)" in one and "note: baseline" in one and "tier: simple" in one
    listed = cli(broker, "list", "--team", "alpha").stdout
    assert "alpha/triage" in listed and "alpha/summarize" in listed
    missing = cli(broker, "show", "triage", "--team", "beta")
    assert missing.returncode == 1 and "no prompt template" in missing.stderr

    jobs = tmp_path / "jobs.jsonl"
    lines = [{"prompt": {"id": "triage", "variables": {"ticket": f"printer {i} is on fire"}}} for i in range(2)]
    jobs.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    submitted = cli(broker, "submit", str(jobs), "--team", "alpha", "--wait", group="")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    summary = json.loads(submitted.stdout.strip().splitlines()[-1])
    assert (summary["submitted"], summary["succeeded"]) == (2, 2)
    for job_id in summary["job_ids"]:
        fields = broker.redis.hmget(keys.job(job_id), "template_id", "template_version")
        assert fields == [b"alpha/triage", b"2"]  # v1 is retired and no split runs: the latest
