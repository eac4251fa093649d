from __future__ import annotations

import pytest
from pydantic import ValidationError

from broker.api.errors import field_path, problem
from broker.api.jobs import prefer_wait
from schemas.chat import JobRequest

HI = [{"role": "user", "content": "hi"}]


def test_minimal_request_and_defaults() -> None:
    request = JobRequest.model_validate({"model": "gpt-4o", "messages": HI})
    assert request.metadata.feature == "default"
    assert request.output_cap() is None
    assert request.sampling() == {}


def test_max_completion_tokens_is_an_alias_for_the_cap() -> None:
    assert JobRequest.model_validate({"messages": HI, "max_completion_tokens": 7}).output_cap() == 7


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "a", "tier": "simple", "messages": HI}, "tier"),
        ({"model": "a"}, "messages"),
        ({"model": "a", "messages": HI, "prompt": {"id": "t"}}, "prompt"),
        ({"model": "a", "messages": HI, "callback_url": "ftp://x"}, "callback_url"),
        ({"model": "a", "messages": HI, "metadata": {"feature": "f", "tag": 3}}, "metadata"),
        ({"model": "a", "messages": HI, "temperature": 3}, "temperature"),
    ],
)
def test_invalid_requests_name_their_field(body: dict, param: str) -> None:
    with pytest.raises(ValidationError) as caught:
        JobRequest.model_validate(body)
    err = caught.value.errors()[0]
    assert problem({**err, "loc": ("body", *err["loc"])})["param"] == param


def test_field_path_renders_indexes() -> None:
    assert field_path(("body", "messages", 0, "role")) == "messages[0].role"
    assert field_path(("body",)) == "body"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("wait=30", 30.0), ("respond-async, wait=2.5", 2.5), ("return=minimal", None)],
)
def test_prefer_wait(header: str | None, seconds: float | None) -> None:
    assert prefer_wait(header) == seconds
