"""Offline input-token counting, so admission can reserve before any provider call.

OpenAI models are counted exactly with their own encoding and OpenAI's chat framing
(3 tokens per message plus its role and content, 1 more for a name, 3 to prime the
reply). Other providers publish no local tokenizer: we estimate on the high side with
cl100k and let reconciliation against the provider's reported usage correct the reservation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import bpe_openai

from schemas.chat import ChatMessage
from schemas.config import Tokenizer

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
ESTIMATE_ENCODING = "cl100k_base"
ESTIMATE_MARGIN = 1.10


@lru_cache(maxsize=4)
def _encoding(name: str) -> bpe_openai.Encoding:
    return bpe_openai.get_encoding(name)


def text_tokens(text: str, encoding: str) -> int:
    return len(_encoding(encoding).encode(text, disallowed_special=()))


def count_chat_tokens(messages: Sequence[ChatMessage], encoding: str) -> int:
    """Exact prompt tokens for an OpenAI chat model using ``encoding``."""
    total = REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE + text_tokens(message.role, encoding)
        total += text_tokens(message.text(), encoding)
        if message.name:
            total += TOKENS_PER_NAME + text_tokens(message.name, encoding)
    return total


def estimate_chat_tokens(messages: Sequence[ChatMessage]) -> int:
    """A deliberately generous estimate for providers without a local tokenizer."""
    return math.ceil(count_chat_tokens(messages, ESTIMATE_ENCODING) * ESTIMATE_MARGIN)


def count_input_tokens(messages: Sequence[ChatMessage], tokenizer: Tokenizer) -> int:
    if tokenizer == "estimate":
        return estimate_chat_tokens(messages)
    return count_chat_tokens(messages, tokenizer)
