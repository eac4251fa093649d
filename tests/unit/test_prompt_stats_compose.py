"""Welch's interval for the score difference, and turning a template version into a job."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from broker.errors import InvalidRequest
from broker.prompts.compose import describe, rendered_request, version_diff
from broker.prompts.stats import welch_interval
from schemas.chat import JobRequest
from schemas.prompts import FeedbackRequest, TemplateVersion


def test_welch_matches_a_worked_example() -> None:
    # two samples; reference values from scipy's own Welch test
    a = np.array([27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4])
    b = np.array([27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4])
    got = welch_interval(len(a), a.mean(), a.var(ddof=1), len(b), b.mean(), b.var(ddof=1))
    assert got is not None
    reference = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert got.diff == pytest.approx(b.mean() - a.mean())
    assert (got.low, got.high) == pytest.approx((reference.low, reference.high))
    assert got.df == pytest.approx(24.9885, abs=1e-3)


def test_welch_needs_two_scores_per_group_and_handles_zero_variance() -> None:
    assert welch_interval(1, 1.0, 0.0, 10, 2.0, 1.0) is None
    flat = welch_interval(5, 1.0, 0.0, 5, 3.0, 0.0)
    assert flat is not None and flat.low == flat.high == 2.0
    with pytest.raises(ValueError):
        welch_interval(5, 1.0, 1.0, 5, 1.0, 1.0, level=1.5)


def test_welch_interval_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    trials = 2000
    for _ in range(trials):
        a = rng.normal(0.5, 0.2, 30)
        b = rng.normal(0.6, 0.4, 12)
        got = welch_interval(len(a), a.mean(), a.var(ddof=1), len(b), b.mean(), b.var(ddof=1))
        assert got is not None
        covered += got.low <= 0.1 <= got.high
    assert 0.93 <= covered / trials <= 0.97


@settings(max_examples=200, deadline=None)
@given(
    n_a=st.integers(2, 500),
    n_b=st.integers(2, 500),
    mean_a=st.floats(-10, 10),
    mean_b=st.floats(-10, 10),
    var_a=st.floats(1e-6, 10),
    var_b=st.floats(1e-6, 10),
)
def test_property_interval_is_centred_on_the_difference_and_wider_at_higher_level(
    n_a: int, n_b: int, mean_a: float, mean_b: float, var_a: float, var_b: float
) -> None:
    ninety = welch_interval(n_a, mean_a, var_a, n_b, mean_b, var_b, 0.90)
    ninety_nine = welch_interval(n_a, mean_a, var_a, n_b, mean_b, var_b, 0.99)
    assert ninety is not None and ninety_nine is not None
    assert ninety.low < ninety.diff < ninety.high
    assert (ninety.low + ninety.high) / 2 == pytest.approx(mean_b - mean_a, abs=1e-9)
    assert ninety_nine.low < ninety.low and ninety_nine.high > ninety.high
    assert min(n_a, n_b) - 1 - 1e-9 <= ninety.df <= n_a + n_b - 2 + 1e-9


def version(**over: object) -> TemplateVersion:
    base = {
        "template_id": "alpha/summarize",
        "version": 3,
        "author": "ada",
        "created_at": 0.0,
        "messages": [
            {"role": "system", "content": "Summarize in {{ words }} words."},
            {"role": "user", "content": "{{text}}"},
        ],
        "variables": [{"name": "words", "type": "integer"}, {"name": "text", "max_length": 10_000}],
        "model": "gpt-4o-mini",
        "params": {"temperature": 0.2, "max_tokens": 50},
    }
    return TemplateVersion.model_validate({**base, **over})


def job(**fields: object) -> JobRequest:
    prompt = {"id": "summarize", "variables": {"words": 5, "text": "a b"}}
    return JobRequest.model_validate({"prompt": prompt, **fields})


def test_rendered_request_has_messages_not_the_prompt_and_takes_template_defaults() -> None:
    request = rendered_request(job(metadata={"feature": "digest"}), version())
    assert request.prompt is None
    assert [(m.role, m.content) for m in request.chat()] == [("system", "Summarize in 5 words."), ("user", "a b")]
    assert (request.model, request.temperature, request.max_tokens) == ("gpt-4o-mini", 0.2, 50)
    assert request.metadata.feature == "digest"


def test_the_jobs_own_model_and_parameters_win_over_the_templates() -> None:
    request = rendered_request(job(tier="complex", temperature=1.0, max_completion_tokens=9), version())
    assert (request.model, request.tier, request.temperature) == (None, "complex", 1.0)
    assert request.max_tokens is None and request.output_cap() == 9


def test_a_tier_template_sets_the_tier() -> None:
    request = rendered_request(job(), version(model=None, tier="simple"))
    assert (request.model, request.tier) == (None, "simple")


def test_rendering_errors_name_the_variable() -> None:
    with pytest.raises(InvalidRequest) as caught:
        rendered_request(job(prompt={"id": "summarize", "variables": {"words": "five", "text": "x"}}), version())
    assert caught.value.param == "prompt.variables.words"


def test_diff_shows_changed_messages_and_parameters_only() -> None:
    newer = version(
        version=4,
        messages=[
            {"role": "system", "content": "Summarize in at most {{ words }} words."},
            {"role": "user", "content": "{{text}}"},
        ],
        params={"temperature": 0.0, "max_tokens": 50},
    )
    diff = version_diff(version(), newer).splitlines()
    assert diff[:2] == ["--- alpha/summarize v3", "+++ alpha/summarize v4"]
    changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("---", "+++"))]
    assert changed == [
        "-params.temperature: 0.2",
        "+params.temperature: 0.0",
        "-    Summarize in {{ words }} words.",
        "+    Summarize in at most {{ words }} words.",
    ]
    assert version_diff(version(), version()) == ""
    assert "variable words: integer max_length=4000" in describe(version())


@pytest.mark.parametrize("score", [float("nan"), float("inf"), -float("inf"), 2e9])
def test_feedback_scores_must_be_finite_and_bounded(score: float) -> None:
    with pytest.raises(ValueError):
        FeedbackRequest(score=score)
