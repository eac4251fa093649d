"""The prompt-token formulas, checked by hand against the tokenizers."""

from __future__ import annotations

import pytest

from scripts.simulator.tokens import (
    CL100K,
    O200K,
    count_anthropic_tokens,
    count_chat_tokens,
    count_text,
    encoding_for_model,
)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", O200K),
        ("gpt-4o-mini", O200K),
        ("gpt-4.1", O200K),
        ("o3-mini", O200K),
        ("llama-3-8b", O200K),
        ("gpt-4", CL100K),
        ("gpt-4-turbo", CL100K),
        ("gpt-4-0613", CL100K),
        ("gpt-3.5-turbo", CL100K),
    ],
)
def test_encoding_for_model(model, encoding):
    assert encoding_for_model(model) == encoding


def test_single_message():
    # 3 (reply priming) + 3 (message) + "user" (1) + "Hello" (1)
    assert count_chat_tokens([{"role": "user", "content": "Hello"}], O200K) == 8


def test_every_field_counts_and_name_costs_one_more():
    plain = {"role": "user", "content": "Hello"}
    named = {"role": "user", "name": "alice", "content": "Hello"}

    extra = count_chat_tokens([named], O200K) - count_chat_tokens([plain], O200K)
    assert extra == count_text("alice", O200K) + 1


def test_formula_over_several_messages():
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ]
    expected = 3 + sum(3 + count_text(m["role"], O200K) + count_text(m["content"], O200K) for m in messages)
    assert count_chat_tokens(messages, O200K) == expected


def test_content_parts_count_their_text():
    parts = [{"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": {"url": "x"}}]
    as_parts = count_chat_tokens([{"role": "user", "content": parts}], O200K)
    as_string = count_chat_tokens([{"role": "user", "content": "Describe"}], O200K)
    assert as_parts == as_string


def test_encodings_differ_on_the_same_prompt():
    text = "Ünïcödé and emoji 🙂 tokenize differently across encodings."
    assert count_text(text, O200K) != count_text(text, CL100K)


def test_special_token_text_is_counted_not_rejected():
    assert count_text("<|endoftext|>", O200K) > 1


def test_anthropic_formula():
    system = "Be brief."
    messages = [{"role": "user", "content": "Hello there"}, {"role": "assistant", "content": "Hi"}]
    base = count_text(system, CL100K) + count_text("Hello there", CL100K) + count_text("Hi", CL100K)
    assert count_anthropic_tokens(system, messages) == int(base * 1.08 + 0.5) + 4 * 2


def test_anthropic_blocks_equal_plain_strings():
    blocks = [{"type": "text", "text": "Be brief."}]
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}]
    plain = [{"role": "user", "content": "Hello there"}]
    assert count_anthropic_tokens(blocks, messages) == count_anthropic_tokens("Be brief.", plain)
