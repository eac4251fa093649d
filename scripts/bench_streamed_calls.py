"""What keeping a time-to-first-byte deadline costs a worker: provider calls per second
through the adapters in plain mode and in the streaming mode the deadline needs
(``workers/deadlines.py``), against the simulated providers, in one process.

    python -m scripts.bench_streamed_calls [--calls 3000] [--in-flight 300] [--tokens 200]

Prints one JSON object on its last line (calls per second, best of ``--runs``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from schemas.chat import JobRequest
from schemas.config import ModelConfig, Price
from scripts.benchjobs import machine
from scripts.simulator.runner import start_simulator
from workers.deadlines import Deadlines, call_within
from workers.providers.anthropic_adapter import AnthropicAdapter
from workers.providers.base import ProviderAdapter
from workers.providers.openai_adapter import OpenAIAdapter


async def rate(adapter: ProviderAdapter, model: ModelConfig, calls: int, in_flight: int, streamed: bool) -> float:
    slots = asyncio.Semaphore(in_flight)
    deadlines = Deadlines(ttfb_s=30.0 if streamed else None, total_s=60.0)

    async def one(i: int) -> None:
        request = JobRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": f"call {i}"}]})
        async with slots:
            reply = await call_within(lambda first: adapter.complete(request, model, first), deadlines)
            assert reply.output_tokens > 0

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return calls / (time.perf_counter() - started)


async def measure(sim: Any, args: argparse.Namespace) -> dict[str, Any]:
    price = Price(input=1, output=1)
    targets = {
        "openai": (OpenAIAdapter("sk", sim.openai_base_url(), 60, args.in_flight), "gpt-4o-mini"),
        "anthropic": (AnthropicAdapter("sk", sim.anthropic_base_url(), 60, args.in_flight), "claude-3-5-haiku"),
    }
    out: dict[str, Any] = {}
    for name, (adapter, upstream) in targets.items():
        model = ModelConfig(
            provider=name, upstream=upstream, tier="simple", price=price, default_max_tokens=args.tokens
        )
        for mode in ("plain", "streamed"):
            best = 0.0
            for _ in range(args.runs):
                best = max(best, await rate(adapter, model, args.calls, args.in_flight, mode == "streamed"))
            out[f"{name}_{mode}_calls_per_s"] = round(best, 1)
        out[f"{name}_streamed_vs_plain"] = round(
            out[f"{name}_streamed_calls_per_s"] / out[f"{name}_plain_calls_per_s"], 3
        )
        await adapter.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=200, help="output tokens per answer")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with start_simulator({"default": {"output_tokens": args.tokens, "latency": 0}}) as sim:
        figures = asyncio.run(measure(sim, args))
    print(
        json.dumps(
            {
                **figures,
                "calls": args.calls,
                "in_flight": args.in_flight,
                "output_tokens": args.tokens,
                "machine": machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
