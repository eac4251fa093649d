"""Experiment assignment: exact shares, sticky subjects, minimal movement when a split changes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.prompts.split import (
    assign,
    initial_layout,
    moved_buckets,
    rebalance,
    shares,
    subject_bucket,
    version_at,
)
from schemas.prompts import SPLIT_BUCKETS, SplitRequest


def covers_everything(layout: tuple[tuple[int, int, int], ...]) -> bool:
    joined = all(a[1] == b[0] for a, b in itertools.pairwise(layout))
    return layout[0][0] == 0 and layout[-1][1] == SPLIT_BUCKETS and joined


def test_first_layout_is_consecutive_in_version_order() -> None:
    assert initial_layout({4: 1000, 3: 9000}) == ((0, 9000, 3), (9000, 10000, 4))


def test_ninety_ten_to_eighty_twenty_moves_exactly_ten_percent_from_v3_to_v4() -> None:
    old = rebalance(None, {3: 9000, 4: 1000})
    new = rebalance(old, {3: 8000, 4: 2000})
    assert shares(new) == {3: 8000, 4: 2000}
    assert moved_buckets(old, new) == 1000
    for bucket in range(0, SPLIT_BUCKETS, 7):
        before, after = version_at(old, bucket), version_at(new, bucket)
        assert before == after or (before, after) == (3, 4)


def test_adding_a_third_version_takes_only_from_those_that_shrink() -> None:
    old = rebalance(None, {1: 5000, 2: 5000})
    new = rebalance(old, {1: 4000, 2: 5000, 3: 1000})
    assert moved_buckets(old, new) == 1000
    assert all(version_at(old, b) == version_at(new, b) for b in range(SPLIT_BUCKETS) if version_at(old, b) == 2)


def test_dropping_a_version_hands_its_buckets_to_the_growers() -> None:
    old = rebalance(None, {1: 3000, 2: 3000, 3: 4000})
    new = rebalance(old, {1: 5000, 2: 5000})
    assert shares(new) == {1: 5000, 2: 5000}
    assert moved_buckets(old, new) == 4000


def test_a_split_must_give_out_every_bucket() -> None:
    with pytest.raises(ValueError):
        rebalance(None, {1: 5000})


def test_subject_bucket_is_deterministic_and_depends_on_the_template() -> None:
    assert subject_bucket("alpha/t", "user-1") == subject_bucket("alpha/t", "user-1")
    assert 0 <= subject_bucket("alpha/t", "user-1") < SPLIT_BUCKETS
    differs = sum(subject_bucket("alpha/t", f"u{i}") != subject_bucket("alpha/u", f"u{i}") for i in range(100))
    assert differs > 95


def test_subject_buckets_are_close_to_uniform() -> None:
    layout = rebalance(None, {1: 9000, 2: 1000})
    got = [assign(layout, "alpha/t", f"subject-{i}") for i in range(20_000)]
    assert abs(got.count(2) / len(got) - 0.10) < 0.01


@pytest.mark.parametrize(
    ("weights", "ok"),
    [
        ({3: 90, 4: 10}, True),
        ({3: 33.33, 4: 33.33, 5: 33.34}, True),
        ({3: 90, 4: 9}, False),
        ({3: 100.5}, False),
        ({3: 50.005, 4: 49.995}, False),
        ({3: 0, 4: 100}, False),
        ({0: 100}, False),
    ],
)
def test_split_requests_are_whole_hundredths_summing_to_100(weights: dict[int, float], ok: bool) -> None:
    if ok:
        assert sum(SplitRequest(weights=weights).buckets().values()) == SPLIT_BUCKETS
    else:
        with pytest.raises(ValueError):
            SplitRequest(weights=weights)


def targets(draw: st.DrawFn) -> dict[int, int]:
    versions = draw(st.lists(st.integers(1, 8), min_size=1, max_size=5, unique=True))
    cuts = sorted(draw(st.lists(st.integers(0, SPLIT_BUCKETS), min_size=len(versions) - 1, max_size=len(versions) - 1)))
    bounds = [0, *cuts, SPLIT_BUCKETS]
    return {v: bounds[i + 1] - bounds[i] for i, v in enumerate(versions)}


target_strategy = st.composite(targets)()


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(target_strategy, min_size=1, max_size=6))
def test_property_every_change_gives_exact_shares_and_moves_the_least_possible(steps: list[dict[int, int]]) -> None:
    layout = None
    for target in steps:
        new = rebalance(layout, target)
        assert covers_everything(new)
        assert shares(new) == {v: n for v, n in target.items() if n > 0}
        if layout is not None:
            before = shares(layout)
            least = sum(max(0, before[v] - target.get(v, 0)) for v in before)
            assert moved_buckets(layout, new) == least
        layout = new
