"""Generated text: one token per piece in both encodings, deterministic, plausible."""

from __future__ import annotations

import pytest

from scripts.simulator.output import (
    SENTENCE_END,
    VOCABULARY,
    choose_output_tokens,
    generate_pieces,
    request_seed,
)
from scripts.simulator.tokens import CL100K, O200K, count_text


@pytest.mark.parametrize("encoding", [O200K, CL100K])
def test_every_word_is_one_token_in_every_form(encoding):
    forms = [(w, " " + w, w.capitalize(), " " + w.capitalize()) for w in VOCABULARY]
    bad = [form for group in forms for form in group if count_text(form, encoding) != 1]
    assert bad == []
    assert count_text(SENTENCE_END, encoding) == 1


@pytest.mark.parametrize("encoding", [O200K, CL100K])
def test_text_has_exactly_one_token_per_piece(encoding):
    for seed in range(200):
        count = seed % 97
        text = "".join(generate_pieces(seed, count))
        assert count_text(text, encoding) == count, (seed, text)


def test_deterministic_and_prefix_stable():
    assert generate_pieces(42, 30) == generate_pieces(42, 30)
    assert generate_pieces(42, 30)[:10] == generate_pieces(42, 10)
    assert generate_pieces(42, 30) != generate_pieces(43, 30)


def test_reads_like_sentences():
    text = "".join(generate_pieces(7, 200))
    assert text[0].isupper()
    assert not text.startswith(" ")
    sentences = [s.strip() for s in text.split(".") if s.strip()]
    assert len(sentences) > 5
    assert all(s[0].isupper() for s in sentences)


def test_request_seed_is_stable_and_sensitive():
    messages = [{"role": "user", "content": "Hi"}]
    assert request_seed("m", messages, 10) == request_seed("m", [{"content": "Hi", "role": "user"}], 10)
    assert request_seed("m", messages, 10) != request_seed("m", messages, 11)
    assert request_seed("m", messages, 10) != request_seed("n", messages, 10)
    assert 0 <= request_seed("m", messages, None) < 2**64


def test_choose_output_tokens():
    assert choose_output_tokens(24, seed=1) == 24
    picks = {choose_output_tokens((5, 9), seed) for seed in range(200)}
    assert picks == {5, 6, 7, 8, 9}
    assert choose_output_tokens((5, 9), 123) == choose_output_tokens((5, 9), 123)
    assert choose_output_tokens((3, 3), 9) == 3
