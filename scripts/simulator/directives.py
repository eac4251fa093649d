"""Per-request directives: ``#sim(...)`` in the last user message steers one request.

Tests need one request to be slow, long, or failing without reconfiguring the
server. Syntax: ``#sim(key=value, key=value)``; several ``#sim(...)`` in the
same message merge (later wins). Keys:

=============== ============================================================
``tokens=N``    output N tokens (still capped by ``max_tokens``)
``latency=S``   S seconds before the first byte (also delays a ``status``)
``tps=R``       pace generation at R tokens per second (0 = instant)
``status=K``    fail as fault kind K: 429, 500, 503, 529, 400, hang, drop
``retry_after`` seconds in the ``retry-after`` header of a 429
``hang_s=S``    how long ``status=hang`` holds the connection (default 600)
=============== ============================================================

Directives are part of the prompt: they count as prompt tokens and feed the
output seed like any other text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scripts.simulator.config import FAULT_KINDS

_DIRECTIVE = re.compile(r"#sim\(([^)]*)\)")
_FLOAT_KEYS = {"latency", "tps", "retry_after", "hang_s"}


class DirectiveError(ValueError):
    """A ``#sim(...)`` that cannot be understood; answered as a 400 so the test author sees it."""


@dataclass(frozen=True, slots=True)
class Directives:
    tokens: int | None = None
    latency: float | None = None
    tps: float | None = None
    status: str | None = None
    retry_after: float | None = None
    hang_s: float | None = None


NO_DIRECTIVES = Directives()


def parse_directives(text: str) -> Directives:
    """Every ``#sim(...)`` in ``text`` merged into one ``Directives``."""
    if "#sim(" not in text:
        return NO_DIRECTIVES
    values: dict[str, Any] = {}
    for match in _DIRECTIVE.finditer(text):
        for item in match.group(1).split(","):
            if not item.strip():
                continue
            key, sep, raw = (part.strip() for part in item.partition("="))
            if not sep:
                raise DirectiveError(f"#sim directive {item.strip()!r} is not key=value")
            values[key] = _convert(key, raw)
    return Directives(**values)


def _convert(key: str, raw: str) -> str | int | float:
    if key == "status":
        if raw not in FAULT_KINDS:
            raise DirectiveError(f"#sim status must be one of {', '.join(FAULT_KINDS)}, not {raw!r}")
        return raw
    if key != "tokens" and key not in _FLOAT_KEYS:
        raise DirectiveError(f"unknown #sim key {key!r}")
    try:
        number: int | float = int(raw) if key == "tokens" else float(raw)
    except ValueError:
        raise DirectiveError(f"#sim {key}={raw!r} is not a number") from None
    if number < 0:
        raise DirectiveError(f"#sim {key} must not be negative")
    return number


def last_user_text(messages: Sequence[Any]) -> str:
    """Text of the last ``user`` message (string content or text parts/blocks), for both protocols."""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    str(part.get("text") or "")
                    for part in content
                    if isinstance(part, Mapping) and part.get("type") == "text"
                )
            return ""
    return ""
