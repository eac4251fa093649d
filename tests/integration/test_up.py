"""`llm-broker up` starts everything, other commands find its Redis without flags, Ctrl-C
stops everything it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from scripts.embedded_redis import free_port

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broker.cli.main", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_up_then_keys_create_then_a_job_then_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_BROKER_")}
    env |= {
        "LLM_BROKER_HOME": str(tmp_path / "var"),
        "LLM_BROKER_REDIS__PORT": str(free_port()),
        "LLM_BROKER_API__PORT": str(free_port()),
        "LLM_BROKER_SIMULATOR__LATENCY_S": "0",
    }
    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SELFHOSTED_API_KEY"):
        env.pop(variable, None)  # no real keys: the simulated providers answer
    up = subprocess.Popen(
        [sys.executable, "-m", "broker.cli.main", "up", "--flower-port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert up.stdout is not None
        api_url = None
        deadline = time.monotonic() + 120
        while api_url is None and time.monotonic() < deadline:
            line = up.stdout.readline()
            assert line or up.poll() is None, "up exited early"
            found = re.search(r"llm-broker is up: API (\S+)", line)
            api_url = found.group(1) if found else None
        assert api_url == f"http://127.0.0.1:{env['LLM_BROKER_API__PORT']}"

        only_home = {k: v for k, v in env.items() if k not in ("LLM_BROKER_REDIS__PORT", "LLM_BROKER_API__PORT")}
        created = cli("keys", "create", "--team", "search", env=only_home)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith("lb-")
        assert (
            key not in (tmp_path / "var" / "redis" / "appendonly.aof").read_text(errors="ignore")
            if (tmp_path / "var" / "redis" / "appendonly.aof").exists()
            else True
        )

        job = httpx.post(
            f"{api_url}/v1/jobs",
            json={"model": "claude-3-5-haiku", "messages": [{"role": "user", "content": "hi from up"}]},
            headers={"Authorization": f"Bearer {key}", "Prefer": "wait=60"},
            timeout=90,
        ).json()
        assert job["state"] == "succeeded", job
        status = cli("status", job["id"], env=only_home)
        assert '"succeeded"' in status.stdout

        time.sleep(1.5)  # AOF is fsynced every second
        stored = b"".join(p.read_bytes() for p in (tmp_path / "var" / "redis").rglob("*") if p.is_file())
        assert job["id"].encode() in stored  # the job is persisted...
        assert key.encode() not in stored  # ...but the API key only as its hash

        os.killpg(up.pid, signal.SIGINT)
        assert up.wait(60) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{api_url}/healthz", timeout=2)
        assert not (tmp_path / "var" / "run" / "config.yaml").exists()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
