"""``#sim(...)`` directives steer single requests; pacing and latency from the model config."""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest

pytestmark = pytest.mark.integration


def oai(sim) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.openai_base_url(), api_key="sk-test", max_retries=0)


def ask(sim, content: str, model: str = "gpt-4o-mini", **kwargs):
    return oai(sim).chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kwargs)


def test_tokens_directive(sim):
    assert ask(sim, "Hi #sim(tokens=5)").usage.completion_tokens == 5
    assert ask(sim, "Hi #sim(tokens=0)").choices[0].message.content == ""
    capped = ask(sim, "Hi #sim(tokens=50)", max_tokens=10)
    assert capped.usage.completion_tokens == 10
    assert capped.choices[0].finish_reason == "length"


def test_combined_tokens_and_latency(sim):
    started = time.monotonic()
    response = ask(sim, "Hi #sim(tokens=5, latency=0.2)")

    assert time.monotonic() - started >= 0.2
    assert response.usage.completion_tokens == 5


def test_only_the_last_user_message_counts(sim):
    messages = [
        {"role": "user", "content": "#sim(status=500)"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "fine now #sim(tokens=3)"},
    ]
    response = oai(sim).chat.completions.create(model="gpt-4o-mini", messages=messages)

    assert response.usage.completion_tokens == 3


def test_status_directives(sim):
    with pytest.raises(openai.InternalServerError):
        ask(sim, "#sim(status=503)")
    with pytest.raises(openai.RateLimitError) as info:
        ask(sim, "#sim(status=429, retry_after=3)")
    assert info.value.response.headers["retry-after"] == "3"
    with pytest.raises(openai.APIConnectionError):
        ask(sim, "#sim(status=drop)")
    with pytest.raises(openai.APITimeoutError):
        oai(sim).with_options(timeout=0.3).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "#sim(status=hang,hang_s=5)"}]
        )
    with pytest.raises(anthropic.OverloadedError):
        anthropic.Anthropic(base_url=sim.anthropic_base_url(), api_key="k", max_retries=0).messages.create(
            model="claude-x",
            max_tokens=10,
            messages=[{"role": "user", "content": [{"type": "text", "text": "#sim(status=529)"}]}],
        )


def test_bad_directive_is_a_400(sim):
    with pytest.raises(openai.BadRequestError, match="unknown #sim key"):
        ask(sim, "#sim(colour=blue)")
    with pytest.raises(openai.BadRequestError, match="status"):
        ask(sim, "#sim(status=418)")


def test_configured_latency(sim):
    started = time.monotonic()
    ask(sim, "Hi", model="slow")
    assert time.monotonic() - started >= 0.3


def test_tokens_per_second_paces_the_stream(sim):
    body = {"model": "paced", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    headers = {"Authorization": "Bearer k"}
    url = f"{sim.openai_base_url()}/chat/completions"
    arrivals = []
    with httpx.stream("POST", url, json=body, headers=headers) as response:
        started = time.monotonic()
        for line in response.iter_lines():
            if line.startswith("data: {"):
                arrivals.append(time.monotonic() - started)

    assert len(arrivals) == 22  # role chunk, 20 pieces, finish chunk
    assert arrivals[-1] - arrivals[0] >= 0.17  # 20 tokens at 100/s: 0.19 s from first to last
    assert arrivals[-1] < 2

    sdk_started = time.monotonic()
    chunks = list(oai(sim).chat.completions.create(**body))
    assert time.monotonic() - sdk_started >= 0.19
    assert len(chunks) == 22


def test_tokens_per_second_also_delays_non_streaming(sim):
    started = time.monotonic()
    ask(sim, "Hi #sim(tokens=11, tps=50)")
    assert time.monotonic() - started >= 0.2
