"""Simulated LLM providers: the OpenAI and Anthropic wire protocols, with latency, faults and stats.

The demo, the tests and the benchmarks point the official ``openai`` and
``anthropic`` SDKs at this server. See ``docs/simulator.md``.

Entry points: ``python -m scripts.simulator`` (``__main__.main``), ``server.run_server``,
``server.build_app``, and ``runner.start_simulator`` for tests (a subprocess).
"""
