from __future__ import annotations

import pytest

from broker.settings import ConfigError, env_overrides, load_config, parse_config, sample_config_path


def test_sample_config_is_valid_and_has_three_providers_two_teams() -> None:
    config = load_config(sample_config_path())
    assert set(config.providers) == {"openai", "anthropic", "selfhosted"}
    assert {"gpt-4o", "gpt-4o-mini", "claude-3-5-haiku", "claude-sonnet"} <= set(config.models)
    assert len(config.teams) == 2
    assert config.models["gpt-4o"].price.input == 2.50 and config.models["gpt-4o"].price.output == 10.00


def test_environment_overrides_nested_values_with_yaml_typing() -> None:
    tree = env_overrides({"LLM_BROKER_API__PORT": "9000", "LLM_BROKER_REDIS__URL": "null", "OTHER": "x"})
    assert tree == {"api": {"port": 9000}, "redis": {"url": None}}


def test_override_applies_on_top_of_the_file() -> None:
    data = {
        "providers": {"p": {"kind": "openai", "api_key_env": "P_KEY"}},
        "models": {"m": {"provider": "p", "upstream": "m", "tier": "simple", "price": {"input": 1, "output": 2}}},
    }
    config = parse_config(data, {"LLM_BROKER_MODELS__M__PRICE__INPUT": "0.5"})
    assert config.models["m"].price.input == 0.5


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (
            {
                "providers": {},
                "models": {
                    "m": {"provider": "nope", "upstream": "m", "tier": "simple", "price": {"input": 1, "output": 1}}
                },
            },
            "models.m.provider",
        ),
        ({"providers": {}, "models": {}, "tierz": {}}, "tierz"),
        ({"providers": {"p": {"kind": "grpc", "api_key_env": "K"}}, "models": {}}, "providers.p.kind"),
    ],
)
def test_invalid_config_names_the_key(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        parse_config(data, {})
