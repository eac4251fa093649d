"""Config loading and validation, and the latency samplers built from it."""

from __future__ import annotations

import random
import statistics

import pytest
from pydantic import ValidationError

from scripts.simulator.config import (
    FixedLatency,
    LognormalLatency,
    SimulatorConfig,
    UniformLatency,
    apply_overrides,
    load_config,
)
from scripts.simulator.models import ModelTable, latency_sampler


def test_defaults():
    config = SimulatorConfig()
    assert (config.host, config.port, config.faults) == ("127.0.0.1", 8900, [])
    assert config.default.output_tokens == 24
    assert config.default.latency == FixedLatency(seconds=0)


def test_yaml(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text(
        """
port: 9000
models:
  gpt-4o-mini: {output_tokens: [10, 40], latency: {kind: lognormal, median: 0.8, p95: 2.5}}
  claude-*: {latency: 1.5, tokens_per_second: 60}
faults:
  - {provider: openai, kind: 429, rate: 0.1, retry_after: 2}
  - {kind: drop, schedule: [[0, 5]]}
"""
    )
    config = load_config(path)
    assert config.port == 9000
    assert config.models["gpt-4o-mini"].output_tokens == (10, 40)
    assert isinstance(config.models["gpt-4o-mini"].latency, LognormalLatency)
    assert config.models["claude-*"].latency == FixedLatency(seconds=1.5)
    assert [rule.kind for rule in config.faults] == ["429", "drop"]
    assert load_config(str(path)) == config


@pytest.mark.parametrize(
    "data",
    [
        {"default": {"output_tokens": -1}},
        {"default": {"output_tokens": [9, 3]}},
        {"default": {"latency": {"kind": "lognormal", "median": 2, "p95": 1}}},
        {"default": {"latency": {"kind": "uniform", "min": 2, "max": 1}}},
        {"faults": [{"kind": "418"}]},
        {"faults": [{"kind": "500", "rate": 1.5}]},
        {"faults": [{"kind": "500", "schedule": [[5, 1]]}]},
        {"faults": [{"kind": "500", "flap": {"down_fraction": 1.0, "mean_down_s": 1}}]},
        {"surprise": True},
    ],
)
def test_invalid(data):
    with pytest.raises(ValidationError):
        SimulatorConfig.from_dict(data)


def test_lognormal_hits_median_and_p95():
    sample = latency_sampler(LognormalLatency(kind="lognormal", median=1.0, p95=3.0), random.Random(0))
    draws = sorted(sample() for _ in range(20_000))
    assert statistics.median(draws) == pytest.approx(1.0, rel=0.05)
    assert draws[int(0.95 * len(draws))] == pytest.approx(3.0, rel=0.08)


def test_uniform_and_fixed():
    uniform = latency_sampler(UniformLatency(kind="uniform", min=0.5, max=1.0), random.Random(0))
    assert all(0.5 <= uniform() <= 1.0 for _ in range(1000))
    assert latency_sampler(FixedLatency(seconds=0), random.Random(0))() == 0


def test_model_lookup_exact_then_glob_then_default():
    config = SimulatorConfig.from_dict(
        {"models": {"claude-*": {"output_tokens": 7}, "claude-opus": {"output_tokens": 9}}}
    )
    table = ModelTable(config.models, config.default, seed=0)
    assert table.get("claude-opus").output_tokens == 9
    assert table.get("claude-haiku").output_tokens == 7
    assert table.get("gpt-4o").output_tokens == 24
    assert table.get("gpt-4-turbo").encoding == "cl100k_base"
    assert table.names() == ["claude-opus"]


def test_command_line_overrides_apply_to_every_model(tmp_path):
    from scripts.simulator.__main__ import build_parser, config_from_args

    path = tmp_path / "sim.json"
    path.write_text('{"port": 9100, "models": {"a": {"output_tokens": 3, "latency": 0.5}}}')
    args = build_parser().parse_args(["--config", str(path), "--latency", "1.0", "--port", "0"])
    config = config_from_args(args)

    assert config.port == 0
    assert config.default.latency == FixedLatency(seconds=1.0)
    assert config.models["a"].latency == FixedLatency(seconds=1.0)
    assert config.models["a"].output_tokens == 3
    assert apply_overrides(config) == config
