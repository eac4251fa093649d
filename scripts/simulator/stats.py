"""Request counters behind ``GET /_sim/stats``: what the broker actually sent to each provider.

Tests assert on these (e.g. "the fallback really hit anthropic once"), so they
count every provider-API request, including the ones that failed, hung or were
dropped. Plain dicts and ints: one event loop, no locks needed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class Stats:
    """Counts by provider, (provider, model), status and (provider, status), plus tokens served."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero the counters; ``in_flight`` is live state and is kept."""
        self.total = 0
        self.by_provider: Counter[str] = Counter()
        self.by_model: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.by_status: Counter[str] = Counter()
        self.by_provider_status: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.tokens: defaultdict[str, defaultdict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))

    def begin(self, provider: str) -> None:
        self.total += 1
        self.in_flight += 1
        self.by_provider[provider] += 1

    def model(self, provider: str, model: str) -> None:
        self.by_model[provider][model] += 1

    def served(self, provider: str, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        counts = self.tokens[provider][model]
        counts[0] += prompt_tokens
        counts[1] += completion_tokens

    def end(self, provider: str, status: str) -> None:
        """``status`` is the HTTP code as text, or ``drop`` / ``hang`` / ``cancelled`` (client went away)."""
        self.in_flight -= 1
        self.by_status[status] += 1
        self.by_provider_status[provider][status] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "in_flight": self.in_flight,
            "by_provider": dict(self.by_provider),
            "by_model": {provider: dict(models) for provider, models in self.by_model.items()},
            "by_status": dict(self.by_status),
            "by_provider_status": {provider: dict(codes) for provider, codes in self.by_provider_status.items()},
            "tokens": {
                provider: {
                    model: {"prompt_tokens": prompt, "completion_tokens": completion}
                    for model, (prompt, completion) in models.items()
                }
                for provider, models in self.tokens.items()
            },
        }
