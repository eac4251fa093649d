"""Command line of the simulator.

    python -m scripts.simulator --host 127.0.0.1 --port 8900 [--config sim.yaml] [--latency 1.0]

``main(argv)`` is reusable by other CLIs (the broker's ``llm-broker simulate``);
``config_from_args`` builds the same config without running anything.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from scripts.simulator.config import SimulatorConfig, apply_overrides, load_config
from scripts.simulator.server import run_server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.simulator",
        description="Simulated LLM providers speaking the OpenAI and Anthropic wire protocols.",
    )
    parser.add_argument("--host", help="interface to bind (default: config, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port, 0 = any free port (default: config, else 8900)")
    parser.add_argument("--config", help="YAML (or JSON) file with a SimulatorConfig")
    parser.add_argument(
        "--latency",
        type=float,
        help="fixed time to first byte in seconds for every model (overrides the config)",
    )
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        help="generation pace for every model, 0 = instant (overrides the config)",
    )
    parser.add_argument("--seed", type=int, help="seed for latency draws and fault rates")
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="exit when the parent process dies (used by runner.py)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The config file (or defaults) with the command-line overrides applied."""
    return apply_overrides(
        load_config(args.config),
        host=args.host,
        port=args.port,
        seed=args.seed,
        latency=args.latency,
        tokens_per_second=args.tokens_per_second,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    run_server(config_from_args(args), parent_pid=os.getppid() if args.exit_with_parent else None)


if __name__ == "__main__":
    main()
