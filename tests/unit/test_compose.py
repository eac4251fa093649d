"""compose.yaml cannot run here (no Docker engine); check what can be: it parses and every
service runs a real command of the CLI with options that command accepts."""

from __future__ import annotations

from pathlib import Path

import typer.main
import yaml

from broker.cli.main import app

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"


def test_compose_services_run_real_cli_commands() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    cli = typer.main.get_command(app)
    broker_services = {name: s for name, s in services.items() if name != "redis"}
    assert {"api", "scheduler", "sink", "flower", "worker-openai", "worker-anthropic", "worker-selfhosted"} <= set(
        broker_services
    )
    for name, service in broker_services.items():
        program, command, *args = service["command"]
        assert program == "llm-broker", name
        assert command in cli.commands, f"{name}: no CLI command {command!r}"  # type: ignore[attr-defined]
        options = {opt for param in cli.commands[command].params for opt in param.opts}  # type: ignore[attr-defined]
        for arg in args:
            if arg.startswith("--"):
                assert arg in options, f"{name}: {command} has no option {arg}"


def test_compose_workers_cover_every_configured_provider() -> None:
    from broker.settings import load_config, sample_config_path

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    served = {s["command"][3] for s in services.values() if s.get("command", [None, None])[1] == "worker"}
    assert served == set(load_config(sample_config_path()).providers)
