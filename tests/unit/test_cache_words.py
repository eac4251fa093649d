"""Word forms, the same-words verdict and the anchors of the near-miss guard: pure, no model.

The examples are written for these tests (help-desk English), not taken from the dev pairs
or the benchmark's stream."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.cache.guard import anchor_key, judge
from broker.cache.lexicon import SYNONYMS
from broker.cache.morphology import SYNONYMS_BY_STEM, canonical, corrected, derived, stem, typo
from broker.cache.reading import read
from broker.cache.vocabulary import is_word, known_words


def test_inflections_of_a_word_share_one_stem() -> None:
    assert stem("include") == stem("included") == stem("including") == stem("includes")
    assert stem("change") == stem("changed") == stem("changing")
    assert stem("calorie") == stem("calories")
    assert stem("plane") != stem("plan")  # a short word keeps its final e: no new collision
    assert stem("free") == "free"


def test_every_inflection_of_a_thesaurus_word_finds_its_group() -> None:
    assert canonical("updated") == canonical("update") == canonical("changing") == "change"
    assert canonical("deleted") == canonical("removing") == "delete"
    for word, head in SYNONYMS.items():
        assert SYNONYMS_BY_STEM[stem(word)] == head  # no two groups share a stem


def test_nouns_made_from_a_thesaurus_verb_join_its_group() -> None:
    assert derived("cancellation") == "cancel"
    assert derived("deletion") == derived("removal") == "delete"
    assert canonical("delivery") == canonical("shipment") == canonical("shipping") == canonical("deliver")
    assert derived("statement") is None  # "state" is no thesaurus verb: no guess
    assert derived("apartment") is None


def test_long_words_allow_a_slip_on_each_side() -> None:
    assert typo("recieve", "receive") and typo("accomodation", "acommodation")
    assert not typo("invoice", "invoices2")
    assert not typo("suitable", "unsuitable")
    assert not typo("cost", "cast")  # short words must match exactly


def test_only_non_words_are_corrected_and_only_to_the_lexicon() -> None:
    assert len(known_words()) > 10_000 and is_word("bring") and not is_word("plese")
    assert corrected("plese") == "please"
    assert corrected("thnaks") == "thanks"
    assert corrected("bring") == "bring"  # one edit from "being", but a word
    assert corrected("three") == "three"  # one edit from "there", but a word
    assert corrected("xylophne") == "xylophne"  # nothing of the lexicon near: left to the pairwise typo check


def test_a_phrasal_verb_joins_across_its_object_and_only_once() -> None:
    assert read("How do I log me in?").words == read("How do I log in?").words
    assert read("How do I switch the alerts off?").words == read("How do I turn off the alerts?").words
    # the "on" of "on my laptop" does not turn the verb on again
    assert read("How do I turn off alerts on my laptop?").words[0] == "disable"
    assert judge("How do I turn off alerts on my laptop?", "How do I turn on alerts on my laptop?").reasons


@pytest.mark.parametrize(
    ("cached", "new"),
    [
        ("How do I request a new bank card?", "How do I reqeust a new bank card?"),
        ("How do I request a new bank card?", "how can i request a new bank card"),
        ("Can I update my billing address online?", "Can I change my billing address online?"),
        ("Is weekend delivery possible?", "Do you deliver at weekends?"),
        ("Can I cancel my membership?", "Is cancellation of my membership possible?"),
        ("How do I switch the alerts off?", "How can I disable the alerts?"),
        ("Where can I see my statement 2023?", "where can i see my statment 2023"),
    ],
)
def test_the_same_words_in_other_forms_are_read_as_the_same_words(cached: str, new: str) -> None:
    verdict = judge(cached, new)
    assert verdict.reasons == () and verdict.same_words


@pytest.mark.parametrize(
    ("cached", "new"),
    [
        # another kind of answer: a duration, a reason, a yes or no
        ("Do you deliver to Norway?", "How long does delivery to Norway take?"),
        ("Is my card blocked?", "Why is my card blocked?"),
        # a particle or a word more on one side
        ("Is my parcel late?", "Is my parcel?"),
        ("Can I cancel my membership?", "Can I cancel my gym membership?"),
        # no content word at all: nothing to compare
        ("Hello?", "Thanks!"),
        # a free rewording passes the guard but is not the same words
        ("How do I close my account?", "I want to stop being a customer, what do I do?"),
    ],
)
def test_what_differs_in_kind_or_words_is_not_the_same_words(cached: str, new: str) -> None:
    assert not judge(cached, new).same_words


def test_what_the_guard_refuses_is_never_the_same_words() -> None:
    for cached, new in [
        ("Where is order 1234?", "Where is order 1243?"),
        ("How do I unlock my card?", "How do I lock my card?"),
        ("Can I pay in euros?", "Can I pay in dollars?"),
    ]:
        verdict = judge(cached, new)
        assert verdict.reasons and not verdict.same_words


def test_anchors_are_the_numbers_and_quoted_text() -> None:
    assert anchor_key("Where is my order 4812?") == anchor_key("any news on order #4812") is not None
    assert anchor_key("Where is my order 4812?") != anchor_key("Where is my order 4821?")
    assert anchor_key("Send £1,000 to savings") == anchor_key("send a thousand pounds to savings")
    assert anchor_key('What does "exit 3" mean?') != anchor_key('What does "exit 4" mean?')
    assert anchor_key("How do I reset my password?") is None


WORDS = st.sampled_from(["how", "do", "I", "renew", "my", "travel", "insurance", "policy", "online", "the", "cost"])
PROMPTS = st.lists(WORDS, min_size=2, max_size=10).map(lambda ws: " ".join(ws).capitalize() + "?")


@given(PROMPTS, PROMPTS)
def test_the_same_words_verdict_is_symmetric_and_implies_no_objection(first: str, second: str) -> None:
    there, back = judge(first, second), judge(second, first)
    assert there.same_words == back.same_words
    assert not there.same_words or there.reasons == ()


@given(PROMPTS, st.integers(min_value=0, max_value=99_999), st.integers(min_value=0, max_value=99_999))
def test_prompts_share_anchors_exactly_when_their_numbers_agree(prompt: str, first: int, second: int) -> None:
    same = anchor_key(f"{prompt} {first}") == anchor_key(f"{prompt} {second}")
    assert same == (first == second) == (judge(f"{prompt} {first}", f"{prompt} {second}").reasons == ())
