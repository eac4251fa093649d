"""Flower, started by `llm-broker flower`, lists the running provider workers."""

from __future__ import annotations

import time

import httpx
import pytest

from scripts.embedded_redis import free_port
from tests.conftest import BrokerUnderTest

pytestmark = pytest.mark.integration


def test_flower_lists_the_provider_workers(broker: BrokerUnderTest) -> None:
    port = free_port()
    broker.stack.start_flower(port)
    expected = set(broker.config.providers)
    seen: set[str] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            workers = httpx.get(f"http://127.0.0.1:{port}/api/workers", params={"refresh": "1"}, timeout=10).json()
            seen = {name.split("@")[0] for name in workers}
            if expected <= seen:
                break
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1)
    assert expected <= seen, f"Flower saw {seen}"
    broker.stack.stop_process("flower")
