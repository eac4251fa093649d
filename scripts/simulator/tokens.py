"""Prompt token counting, the way each provider bills it.

The broker reserves tokens before a call and reconciles with what the provider
reports afterwards, so the simulator must report realistic numbers:

* OpenAI protocol: **exact**, by the formula OpenAI documents for chat models
  (the cookbook's ``num_tokens_from_messages``). The broker mirrors
  ``count_chat_tokens`` to predict ``prompt_tokens`` to the token.
* Anthropic protocol: **deliberately different** (a cl100k count inflated by 8 %
  plus a per-message overhead). Anthropic's tokenizer is not public; the broker
  can only estimate and must learn the true figure from the response, which is
  exactly what this simulates.

Counting uses ``encode_ordinary``: special-token text such as ``<|endoftext|>``
in a prompt is counted as plain text instead of raising.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

with warnings.catch_warnings():  # bpe_openai 0.1 loads its data with a deprecated importlib API
    warnings.simplefilter("ignore", DeprecationWarning)
    import bpe_openai

O200K = "o200k_base"
CL100K = "cl100k_base"

TOKENS_PER_MESSAGE = 3
"""Every chat message is wrapped as ``<|start|>{role}<|message|>{content}<|end|>``."""
TOKENS_PER_NAME = 1
"""A ``name`` field costs one token on top of its own text."""
REPLY_PRIMING_TOKENS = 3
"""Every reply is primed with ``<|start|>assistant<|message|>``."""

ANTHROPIC_INFLATION = 1.08
ANTHROPIC_TOKENS_PER_MESSAGE = 4


@cache
def get_encoding(encoding_name: str) -> bpe_openai.Encoding:
    """Load a tokenizer once per process (tens of milliseconds; cached after)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return bpe_openai.get_encoding(encoding_name)


def encoding_for_model(model: str) -> str:
    """OpenAI's encoding for a chat model: cl100k_base for the GPT-3.5/GPT-4 family, else o200k_base."""
    if model == "gpt-4" or model.startswith(("gpt-3.5", "gpt-4-")):
        return CL100K
    return O200K


def count_text(text: str, encoding_name: str) -> int:
    """Tokens of one string."""
    return len(get_encoding(encoding_name).encode_ordinary(text)) if text else 0


def _value_tokens(value: Any, encoding_name: str) -> int:
    """Tokens of one message field: strings as text, content parts by their text, anything else as JSON.

    Content given as a list of parts counts each ``text`` part (image and audio
    parts count 0: the simulator does not price media). Structured values such
    as ``tool_calls`` count as compact JSON, a stable stand-in for OpenAI's
    undocumented rendering.
    """
    if value is None:
        return 0
    if isinstance(value, str):
        return count_text(value, encoding_name)
    if isinstance(value, list) and all(isinstance(part, Mapping) and "type" in part for part in value):
        return sum(count_text(str(part.get("text") or ""), encoding_name) for part in value)
    return count_text(json.dumps(value, separators=(",", ":"), sort_keys=True), encoding_name)


def count_chat_tokens(messages: Sequence[Mapping[str, Any]], encoding_name: str) -> int:
    """Prompt tokens of an OpenAI chat request, as OpenAI reports them in ``usage.prompt_tokens``.

    The formula (OpenAI cookbook, ``num_tokens_from_messages``)::

        3                                  # reply priming
        + sum over messages of (
              3                            # message framing
            + tokens of every field value  # role, content, name, tool_call_id ... (role is ~1 token)
            + 1 if the message has a name
          )

    Example: ``[{"role": "user", "content": "Hello"}]`` in o200k_base is
    3 + (3 + 1 + 1) = 8 tokens.
    """
    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            total += _value_tokens(value, encoding_name)
            if key == "name":
                total += TOKENS_PER_NAME
    return total


def _block_texts(content: Any) -> Iterable[str]:
    """Text of an Anthropic ``system`` or message ``content``: a string or a list of blocks."""
    if isinstance(content, str):
        yield content
        return
    if not isinstance(content, list):
        return
    for block in content:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "text":
            yield str(block.get("text") or "")
        elif block.get("type") == "tool_result":
            yield from _block_texts(block.get("content"))
        elif block.get("type") == "tool_use":
            yield json.dumps(block.get("input"), separators=(",", ":"), sort_keys=True)


def count_anthropic_tokens(system: Any, messages: Sequence[Mapping[str, Any]]) -> int:
    """Input tokens the simulated Anthropic API reports in ``usage.input_tokens``.

    ``round_half_up(1.08 * cl100k tokens of system and all message text) + 4 per message``.
    Intentionally not what any client-side estimate computes.
    """
    texts = list(_block_texts(system))
    for message in messages:
        texts.extend(_block_texts(message.get("content")))
    base = sum(count_text(text, CL100K) for text in texts)
    return math.floor(base * ANTHROPIC_INFLATION + 0.5) + ANTHROPIC_TOKENS_PER_MESSAGE * len(messages)
