"""Parsing ``#sim(...)``."""

from __future__ import annotations

import pytest

from scripts.simulator.directives import (
    NO_DIRECTIVES,
    DirectiveError,
    Directives,
    last_user_text,
    parse_directives,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain prompt", NO_DIRECTIVES),
        ("#sim(tokens=5)", Directives(tokens=5)),
        ("go #sim(tokens=5,latency=0.2) now", Directives(tokens=5, latency=0.2)),
        ("#sim( status = 503 )", Directives(status="503")),
        ("#sim(status=429, retry_after=2.5)", Directives(status="429", retry_after=2.5)),
        ("#sim(status=hang,hang_s=3)", Directives(status="hang", hang_s=3.0)),
        ("#sim(tokens=1) and #sim(tokens=2, tps=40)", Directives(tokens=2, tps=40.0)),
        ("#sim()", Directives()),
    ],
)
def test_parse(text, expected):
    assert parse_directives(text) == expected


@pytest.mark.parametrize(
    "text", ["#sim(tokens)", "#sim(tokens=many)", "#sim(colour=red)", "#sim(status=418)", "#sim(latency=-1)"]
)
def test_errors(text):
    with pytest.raises(DirectiveError):
        parse_directives(text)


def test_last_user_text():
    messages = [
        {"role": "user", "content": "first"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}],
        },
        {"role": "assistant", "content": "reply"},
    ]
    assert last_user_text(messages) == "a b"
    assert last_user_text([{"role": "system", "content": "s"}]) == ""
