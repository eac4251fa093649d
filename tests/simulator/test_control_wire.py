"""Control API and the runner: stats, reset, runtime model updates, process lifetime."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from scripts.simulator.runner import SimulatorError, start_simulator

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "Hello"}]


def test_stats_count_by_provider_model_and_status(sim):
    oai = openai.OpenAI(base_url=sim.openai_base_url(), api_key="k", max_retries=0)
    local = openai.OpenAI(base_url=sim.openai_base_url("selfhosted"), api_key="k", max_retries=0)
    ant = anthropic.Anthropic(base_url=sim.anthropic_base_url(), api_key="k", max_retries=0)

    first = oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "#sim(status=429)"}])
    local.chat.completions.create(model="llama", messages=MESSAGES)
    ant.messages.create(model="claude-x", max_tokens=10, messages=MESSAGES)
    httpx.post(f"{sim.openai_base_url()}/chat/completions", json={})  # no key: 401

    stats = sim.stats()
    assert stats["total"] == 6
    assert stats["in_flight"] == 0
    assert stats["by_provider"] == {"openai": 4, "selfhosted": 1, "anthropic": 1}
    assert stats["by_model"] == {
        "openai": {"gpt-4o-mini": 2, "gpt-3.5-turbo": 1},
        "selfhosted": {"llama": 1},
        "anthropic": {"claude-x": 1},
    }
    assert stats["by_status"] == {"200": 4, "429": 1, "401": 1}
    assert stats["by_provider_status"]["openai"] == {"200": 2, "429": 1, "401": 1}
    assert stats["tokens"]["openai"]["gpt-4o-mini"] == {
        "prompt_tokens": 2 * first.usage.prompt_tokens,
        "completion_tokens": 2 * first.usage.completion_tokens,
    }

    sim.reset()
    assert sim.stats()["total"] == 0
    assert sim.stats()["by_provider"] == {}


def test_runtime_model_update(sim):
    oai = openai.OpenAI(base_url=sim.openai_base_url(), api_key="k", max_retries=0)
    try:
        sim.set_models({"tiny": {"output_tokens": 2}})
        assert oai.chat.completions.create(model="tiny", messages=MESSAGES).usage.completion_tokens == 2
        assert "gpt-4o-mini" in sim.request("GET", "/_sim/models")["models"]  # merged, not replaced
        with pytest.raises(SimulatorError, match="400"):
            sim.set_models({"tiny": {"output_tokens": -1}})
    finally:
        sim.set_models({"tiny": {"output_tokens": 24}})


def test_health(sim):
    assert httpx.get(f"{sim.url}/_sim/health").json() == {"status": "ok"}


def test_runner_stops_its_process_and_picks_free_ports():
    with start_simulator({"default": {"output_tokens": 1}}) as first, start_simulator() as second:
        assert first.url != second.url
        assert first.health() and second.health()
        reply = openai.OpenAI(base_url=first.openai_base_url(), api_key="k", max_retries=0).chat.completions.create(
            model="any", messages=MESSAGES
        )
        assert reply.usage.completion_tokens == 1
    assert first.process.poll() is not None
    assert second.process.poll() is not None
    first.stop()  # idempotent


def test_runner_reports_a_bad_config():
    with pytest.raises(ValueError):
        start_simulator({"default": {"output_tokens": -3}})
