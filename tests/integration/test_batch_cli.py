"""``llm-broker submit FILE.jsonl`` on the batch path: progress, resume after an interruption,
``results BATCH_ID -o out.jsonl``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BrokerUnderTest, start_broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    stack = start_broker(tmp_path_factory.mktemp("batch-cli"), providers=["openai", "anthropic"])
    try:
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


def cli(broker: BrokerUnderTest, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broker.cli.main", *args],
        env=broker.stack.child_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def requests_file(path: Path, n: int, text: str) -> Path:
    lines = [
        {"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": f"{text} {i}"}]}
        for i in range(n)
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_submit_watches_with_progress_and_writes_results(broker: BrokerUnderTest, tmp_path: Path) -> None:
    jobs = requests_file(tmp_path / "jobs.jsonl", 12, "cli job")
    out = tmp_path / "out.jsonl"
    done = cli(broker, "submit", str(jobs), "--team", "alpha", "--wait", "--feature", "cli-test", "-o", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["status"], summary["submitted"], summary["succeeded"], summary["failed"]) == (
        "completed",
        12,
        12,
        0,
    )
    assert summary["input_tokens"] > 0 and summary["cost_usd"] > 0
    assert "created batch" in done.stderr and "ok 12 failed 0 queued 0" in done.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(x["custom_id"] for x in lines) == sorted(f"line-{i}" for i in range(1, 13))

    again = tmp_path / "again.jsonl"
    fetched = cli(broker, "results", summary["batch_id"], "-o", str(again))
    assert fetched.returncode == 0, fetched.stderr
    assert again.read_text() == out.read_text()
    assert json.loads(fetched.stdout)["completed"] == 12


def test_an_interrupted_submit_resumes_the_same_batch(broker: BrokerUnderTest, tmp_path: Path) -> None:
    jobs = requests_file(tmp_path / "slow.jsonl", 20, "#sim(latency=2) slow")
    first = subprocess.Popen(
        [sys.executable, "-m", "broker.cli.main", "submit", str(jobs), "--team", "alpha", "--wait"],
        env=broker.stack.child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert first.stderr is not None
    seen = first.stderr.readline()  # "created batch ..." once the jobs exist, then progress
    assert "created batch" in seen, seen
    time.sleep(1.0)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode != 0
    assert "batches watch" in err  # it says how to resume

    resumed = cli(broker, "submit", str(jobs), "--team", "alpha", "--wait")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming batch" in resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert (summary["status"], summary["succeeded"]) == ("completed", 20)
    batches = [k for k in broker.redis.keys("lb:batch:*") if k.count(b":") == 2]
    created = [
        b
        for b in batches
        if broker.redis.hget(b, "input_file_id")
        and broker.redis.hget(b, "digest") == broker.redis.hget(f"lb:batch:{summary['batch_id']}", "digest")
    ]
    assert len(created) == 1  # the file ran once

    fresh = cli(broker, "submit", str(jobs), "--team", "alpha", "--new")
    assert (
        fresh.returncode == 0 and json.loads(fresh.stdout.strip().splitlines()[-1])["batch_id"] != summary["batch_id"]
    )


def test_invalid_lines_are_reported_by_line_and_fail_the_command(broker: BrokerUnderTest, tmp_path: Path) -> None:
    jobs = requests_file(tmp_path / "mixed.jsonl", 3, "fine")
    with jobs.open("a") as handle:
        handle.write('{"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]}\n')
    done = cli(broker, "submit", str(jobs), "--team", "alpha")
    assert done.returncode == 1
    assert "line 4: body.messages[0].role" in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["submitted"], summary["rejected"]) == (3, 1)


def test_watch_and_cancel_name_an_unknown_batch_and_act_on_a_known_one(broker: BrokerUnderTest, tmp_path: Path) -> None:
    for command in ("watch", "cancel"):
        unknown = cli(broker, "batches", command, "batch_nosuch")
        assert unknown.returncode == 1 and "no batch batch_nosuch" in unknown.stderr, unknown.stderr
    jobs = requests_file(tmp_path / "watched.jsonl", 3, "watch me")
    made = cli(broker, "submit", str(jobs), "--team", "alpha")
    assert made.returncode == 0, made.stderr
    batch_id = json.loads(made.stdout.strip().splitlines()[-1])["batch_id"]
    watched = cli(broker, "batches", "watch", batch_id)
    assert watched.returncode == 0, watched.stderr
    assert json.loads(watched.stdout.strip().splitlines()[-1])["status"] == "completed"
    ended = cli(broker, "batches", "cancel", batch_id)  # already completed: refused, and said so
    assert ended.returncode == 1 and "is completed and can no longer be cancelled" in ended.stderr, ended.stderr
    assert "Traceback" not in ended.stderr
    slow = tmp_path / "slow.jsonl"
    slow.write_text(
        "\n".join(
            json.dumps({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": line}]})
            for line in [f"#sim(latency=5) slow {i}" for i in range(3)]
        )
        + "\n"
    )
    running = cli(broker, "submit", str(slow), "--team", "alpha")
    assert running.returncode == 0, running.stderr
    running_id = json.loads(running.stdout.strip().splitlines()[-1])["batch_id"]
    cancelled = cli(broker, "batches", "cancel", running_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout.strip().splitlines()[-1])["status"] in ("cancelling", "cancelled")
