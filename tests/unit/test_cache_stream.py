"""The benchmark's generated support stream: seeded, with the re-ask share asked for."""

from __future__ import annotations

import pytest

from scripts.cache_stream import HELDOUT_SETS, INTENTS, all_questions, generate, sample


def test_the_stream_is_reproducible_and_re_asks_the_share_asked_for() -> None:
    stream = generate(600, reask=0.3, seed=3)
    assert stream == generate(600, reask=0.3, seed=3)
    share = sum(item.reask for item in stream) / len(stream)
    assert 0.25 < share < 0.35
    seen: set[str] = set()
    for item in stream:
        assert (item.question in seen) == item.reask  # a re-ask repeats an earlier question, nothing else does
        seen.add(item.question)


def test_re_asks_use_new_phrasings_or_only_new_surface() -> None:
    first_frame = {i.question: i.frame for i in generate(600, seed=3, reword="phrasing") if not i.reask}
    reframed = [i for i in generate(600, seed=3, reword="phrasing") if i.reask]
    assert sum(i.frame != first_frame[i.question] for i in reframed) > 0.8 * len(reframed)
    surface_first: dict[str, int] = {}
    for item in generate(600, seed=3, reword="surface"):
        if item.reask:
            assert item.frame == surface_first[item.question]
        else:
            surface_first[item.question] = item.frame


def test_samples_name_real_questions() -> None:
    known = {f"{intent}:" for intent, _ in all_questions()}
    assert all(any(item.question.startswith(k) for k in known) for item in sample(100))


@pytest.mark.parametrize("reword", sorted(HELDOUT_SETS))
def test_held_out_re_asks_use_only_phrasings_asked_nowhere_else(reword: str) -> None:
    held_out = HELDOUT_SETS[reword]
    assert set(held_out) == set(INTENTS)
    elsewhere = {frame for _, frames in INTENTS.values() for frame in frames} | {
        frame for name, other in HELDOUT_SETS.items() if name != reword for frames in other.values() for frame in frames
    }
    assert not elsewhere & {frame for frames in held_out.values() for frame in frames}
    stream = generate(600, seed=3, reword=reword)
    reasks = [item for item in stream if item.reask]
    assert reasks and all(item.frame < 0 for item in reasks)
    assert all(item.frame >= 0 for item in stream if not item.reask)
