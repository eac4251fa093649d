"""The fallback plan after a retryable error (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from broker.fallback import GiveUp, Requeue, attempt_limit, plan_fallback

NOW = 10_000.0


def plan(cursor: int = 0, failed: str = "a", rate_limited: float | None = None, **kw: object) -> Requeue | GiveUp:
    names = kw.pop("names", ["a", "b", "c"])
    return plan_fallback(
        names,  # type: ignore[arg-type]
        [10 * (i + 1) for i in range(len(names))],  # type: ignore[arg-type]
        cursor,
        failed,
        now_ms=NOW,
        attempts_made=kw.pop("attempts_made", 1),  # type: ignore[arg-type]
        max_attempts=kw.pop("max_attempts", 9),  # type: ignore[arg-type]
        rate_limited_for_ms=rate_limited,
        cooldowns=kw.pop("cooldowns", None),  # type: ignore[arg-type]
    )


def test_a_5xx_moves_to_the_next_candidate() -> None:
    p = plan()
    assert isinstance(p, Requeue)
    assert p.advance and p.candidates == ["a", "b", "c"] and p.not_before_ms is None


def test_the_last_candidate_failing_ends_the_chain() -> None:
    assert plan(cursor=2, failed="c") == GiveUp("all candidates failed")


def test_a_429_rotates_the_model_behind_the_others_with_its_cooldown() -> None:
    p = plan(rate_limited=2_000)
    assert isinstance(p, Requeue)
    assert not p.advance
    assert p.candidates == ["b", "c", "a"] and p.tokens == [20, 30, 10]
    assert p.cooldowns == {"a": NOW + 2_000} and p.not_before_ms is None


def test_a_429_on_the_last_candidate_waits_instead_of_failing() -> None:
    p = plan(cursor=2, failed="c", rate_limited=2_000)
    assert isinstance(p, Requeue)
    assert p.candidates == ["a", "b", "c"] and not p.advance and p.not_before_ms == NOW + 2_000


def test_when_every_remaining_model_is_cooling_the_job_waits_for_the_first() -> None:
    p = plan(cursor=1, failed="b", cooldowns={"c": NOW + 5_000})
    assert isinstance(p, Requeue) and p.not_before_ms == NOW + 5_000
    p = plan(cursor=1, failed="b", rate_limited=1_000, cooldowns={"c": NOW + 5_000})
    assert isinstance(p, Requeue) and p.candidates == ["a", "c", "b"] and p.not_before_ms == NOW + 1_000


def test_expired_cooldowns_are_dropped() -> None:
    p = plan(cooldowns={"b": NOW - 1, "c": NOW + 1})
    assert isinstance(p, Requeue) and p.cooldowns == {"c": NOW + 1}


def test_the_failed_model_is_found_by_name_if_the_chain_was_reordered() -> None:
    p = plan(failed="c")
    assert isinstance(p, Requeue) and p.candidates == ["c", "a", "b"] and p.advance


def test_the_attempt_limit_ends_the_job() -> None:
    assert plan(rate_limited=1_000, attempts_made=9, max_attempts=9) == GiveUp("attempt limit reached (9 of 9)")
    assert attempt_limit(3, 3) == 9


@given(
    st.lists(st.sampled_from(["5xx", "429"]), max_size=60),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_any_error_sequence_ends_within_the_attempt_limit(errors: list[str], n: int, per: int) -> None:
    names = [f"m{i}" for i in range(n)]
    tokens = list(range(n))
    cursor, cooldowns = 0, {}
    limit = attempt_limit(n, per)
    for made, error in enumerate([*errors, *["429"] * (limit + 1)], start=1):
        outcome = plan_fallback(
            names,
            tokens,
            cursor,
            names[cursor],
            now_ms=NOW,
            attempts_made=made,
            max_attempts=limit,
            rate_limited_for_ms=1_000.0 if error == "429" else None,
            cooldowns=cooldowns,
        )
        if isinstance(outcome, GiveUp):
            assert made <= limit
            return
        assert sorted(outcome.candidates) == sorted(names)
        assert outcome.candidates[:cursor] == names[:cursor]  # the consumed prefix never changes
        names, tokens, cooldowns = outcome.candidates, outcome.tokens, outcome.cooldowns
        cursor += int(outcome.advance)
    raise AssertionError("the chain never ended")
