"""Every fault kind surfaces as the SDK's own exception; schedule, rate and flap rules fire as configured."""

from __future__ import annotations

import asyncio
import time

import anthropic
import openai
import pytest

from scripts.simulator.runner import SimulatorError

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "Hello"}]


def oai(sim, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.openai_base_url(), api_key="sk-test", max_retries=0, **kwargs)


def ant(sim, **kwargs) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.anthropic_base_url(), api_key="sk-ant", max_retries=0, **kwargs)


def ask_openai(sim, model: str = "gpt-4o-mini", **kwargs):
    return oai(sim, **kwargs).chat.completions.create(model=model, messages=MESSAGES)


def ask_anthropic(sim, model: str = "claude-x", **kwargs):
    return ant(sim, **kwargs).messages.create(model=model, max_tokens=50, messages=MESSAGES)


def test_429_carries_retry_after(sim):
    sim.set_faults([{"kind": 429, "retry_after": 7}])

    with pytest.raises(openai.RateLimitError) as oai_error:
        ask_openai(sim)
    with pytest.raises(anthropic.RateLimitError) as ant_error:
        ask_anthropic(sim)

    assert oai_error.value.response.headers["retry-after"] == "7"
    assert oai_error.value.body["code"] == "rate_limit_exceeded"
    assert ant_error.value.response.headers["retry-after"] == "7"
    assert ant_error.value.body["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize(
    ("kind", "anthropic_error", "anthropic_type"),
    [
        ("500", anthropic.InternalServerError, "api_error"),
        ("503", anthropic.ServiceUnavailableError, "api_error"),
        ("529", anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_server_errors(sim, kind, anthropic_error, anthropic_type):
    sim.set_faults([{"kind": kind}])

    with pytest.raises(openai.InternalServerError) as oai_error:
        ask_openai(sim)
    with pytest.raises(anthropic_error) as ant_error:
        ask_anthropic(sim)

    assert oai_error.value.status_code == int(kind)
    assert oai_error.value.body["type"] == "server_error"
    assert ant_error.value.status_code == int(kind)
    assert ant_error.value.body["error"]["type"] == anthropic_type


def test_400_is_bad_request(sim):
    sim.set_faults([{"kind": "400", "message": "prompt too long (simulated)"}])

    with pytest.raises(openai.BadRequestError, match="prompt too long"):
        ask_openai(sim)
    with pytest.raises(anthropic.BadRequestError, match="prompt too long"):
        ask_anthropic(sim)


def test_drop_is_a_connection_error(sim):
    sim.set_faults([{"kind": "drop"}])

    with pytest.raises(openai.APIConnectionError):
        ask_openai(sim)
    with pytest.raises(anthropic.APIConnectionError):
        ask_anthropic(sim)

    async def async_call() -> None:
        async with openai.AsyncOpenAI(
            base_url=sim.openai_base_url(),
            api_key="k",
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(),
        ) as c:
            await c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    with pytest.raises(openai.APIConnectionError):
        asyncio.run(async_call())
    assert sim.stats()["by_status"] == {"drop": 3}


def test_hang_until_the_client_times_out(sim):
    sim.set_faults([{"kind": "hang", "hang_s": 30}])

    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask_openai(sim, timeout=0.3)
    with pytest.raises(anthropic.APITimeoutError):
        ask_anthropic(sim, timeout=0.3)

    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while sim.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = sim.stats()
    assert stats["in_flight"] == 0  # the server noticed the clients leaving
    assert stats["by_status"] == {"hang": 2}


def test_rules_match_provider_and_model_globs(sim):
    sim.set_faults([{"provider": "openai", "model": "gpt-4o*", "kind": "500"}])

    with pytest.raises(openai.InternalServerError):
        ask_openai(sim, "gpt-4o-mini")
    assert ask_openai(sim, "gpt-3.5-turbo").choices[0].message.content
    assert ask_anthropic(sim, "gpt-4o-mini").content[0].text  # other provider


def test_schedule_windows(sim):
    sim.set_faults([{"kind": "503", "schedule": [[0, 0.5]]}, {"kind": "429", "schedule": [[60, 120]]}])

    with pytest.raises(openai.InternalServerError):
        ask_openai(sim)
    time.sleep(0.6)
    assert ask_openai(sim).choices[0].message.content


def test_rate_fails_a_share_of_requests(sim):
    sim.set_faults([{"kind": "500", "rate": 0.5}])

    failures = 0
    for _ in range(60):
        try:
            ask_openai(sim)
        except openai.InternalServerError:
            failures += 1

    assert 12 <= failures <= 48
    assert sim.stats()["by_status"] == {"500": failures, "200": 60 - failures}


def test_flap_takes_the_provider_down_and_up(sim):
    sim.set_faults([{"kind": "529", "flap": {"down_fraction": 0.5, "mean_down_s": 0.05, "seed": 4}}])

    outcomes = set()
    deadline = time.monotonic() + 3
    while len(outcomes) < 2 and time.monotonic() < deadline:
        try:
            ask_anthropic(sim)
            outcomes.add("up")
        except anthropic.OverloadedError:
            outcomes.add("down")
        time.sleep(0.01)

    assert outcomes == {"up", "down"}


def test_first_matching_rule_wins(sim):
    sim.set_faults([{"kind": "429"}, {"kind": "500"}])

    with pytest.raises(openai.RateLimitError):
        ask_openai(sim)


def test_fault_rules_round_trip_and_validation(sim):
    installed = sim.set_faults([{"provider": "openai", "kind": 503, "rate": 0.25}])

    assert installed == sim.faults()
    assert installed[0]["kind"] == "503"
    assert installed[0]["rate"] == 0.25
    with pytest.raises(SimulatorError, match="400"):
        sim.set_faults([{"kind": "418"}])
    assert sim.faults() == installed  # a rejected update changes nothing
