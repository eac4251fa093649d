"""The near-miss guard and the prompt reading under it: pure functions, no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.cache.guard import near_miss_reasons
from broker.cache.morphology import edit_distance, typo
from broker.cache.numbers import number_value
from broker.cache.reading import read

PAIRS = Path(__file__).resolve().parents[1] / "data" / "cache_pairs.jsonl"


@pytest.mark.parametrize(
    ("cached", "new", "reason"),
    [
        ("Can I claim for a 2-hour delay?", "Can I claim for a 4-hour delay?", "numbers"),
        ("Convert 100 USD to GBP", "Convert 1,000 USD to GBP", "numbers"),
        ("Remind me at 7am", "Remind me at 7pm", "numbers"),
        ("Convert 100 USD to GBP", "Convert 100 GBP to USD", "numbers"),
        ("How many calories are in two eggs?", "How many calories are in three eggs?", "numbers"),
        ("Does the app work on Android?", "Does the app work on iOS?", "identifier"),
        ("What is the capital of France?", "What is the capital of Germany?", "identifier"),
        ("What does `git reset --hard` do?", "What does `git reset --soft` do?", "quoted"),
        ("Which items can be recycled?", "Which items can't be recycled?", "negation"),
        ("Is the deposit refundable?", "Is the deposit non-refundable?", "negation"),
        ("How do I lock my card?", "How do I unlock my card?", "negation"),
        ("Which plans include phone support?", "Which plans exclude phone support?", "negation"),
        ("How do I turn on dark mode?", "How do I turn off dark mode?", "negation"),
        ("How much is delivery for orders under £50?", "How much is delivery for orders over £50?", "negation"),
        ("Move money from savings to my current account", "Move money from my current account to savings", "direction"),
        ("How do I convert a JPEG to PNG?", "How do I convert a PNG to JPEG?", "direction"),
        ("Is the clinic open on Sundays?", "Is the clinic closed on Sundays?", "substitution"),
        ("What is the baggage allowance for adults?", "What is the baggage allowance for infants?", "substitution"),
        ("How do I get a refund on a gift?", "How do I get a refund on a gift card?", "addition"),
        ("How do I reset my password?", "How do I reset my manager's password?", "addition"),
        # "on" twice against "on" once and "off" once: the second "on" is the phone's
        ("How do I turn on dark mode on my phone?", "How do I turn off dark mode on my phone?", "negation"),
        ("is the leicester store open on bank holiday monday", "is the leicester store open on friday", "identifier"),
        (
            "what is the baggage allowance on long haul flights for premium economy passengers",
            "what is the baggage allowance on long haul flights for infants",
            "substitution",
        ),
    ],
)
def test_near_misses_are_refused_for_the_named_reason(cached: str, new: str, reason: str) -> None:
    assert reason in near_miss_reasons(cached, new)


@pytest.mark.parametrize(
    ("cached", "new"),
    [
        ("How do I reset my password?", "How can I reset my password?"),
        ("How do I reset my password?", "Hi, how do I reset my password? Thanks!"),
        ("Where is the lost property office?", "Where's the lost property office?"),
        ("How do I cancel my order?", "How do I cancle my order?"),
        ("What documents do I need to open an account?", "What documents are needed to open an account?"),
        ("How do I update my address?", "How do I change my address?"),
        ("When does the autumn term start?", "When does the autumn term begin?"),
        ("Is there Wi-Fi on the train?", "Is there wifi on the train?"),
        ("How do I set up a standing order?", "How do I create a standing order?"),
        ("How do I enable notifications?", "How can I turn on notifications?"),
        ("Can I pay £50 by card?", "can i pay £50 by card"),
        ("Transfer £50 to savings", "Transfer fifty pounds to savings"),
        ("What does error code E42 mean?", "what does error code E42 mean??"),
        ("How do I merge cells in a spreadsheet?", "In a spreadsheet, how do I merge cells?"),
        ("How do I switch off dark mode on my laptop?", "Hi there! how do I turn off dark mode on my laptop?"),
        ("How much is the Enterprise plan?", "What's the price of the Enterprise plan?"),
        ("What time does the pharmacy open?", "When does the pharmacy open?"),
        ("How long does shipping to Spain take?", "How many days does shipping to Spain take?"),
        ("Where is my order 48250?", "Any news on order 48250?"),
        ("Do you ship to Sweden?", "Do you deliver to Sweden?"),
    ],
)
def test_rewordings_that_keep_the_question_pass(cached: str, new: str) -> None:
    assert near_miss_reasons(cached, new) == []


def test_the_guard_refuses_every_hard_negative_of_the_projects_labelled_set() -> None:
    """The project's own pairs (tests/data/cache_pairs.jsonl, written for it, not the dev set)."""
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    passed_negatives = [r["id"] for r in rows if not r["same"] and not near_miss_reasons(r["a"], r["b"])]
    assert passed_negatives == []
    near_repeats = [r for r in rows if r["kind"] == "near_repeat"]
    assert all(near_miss_reasons(r["a"], r["b"]) == [] for r in near_repeats)


def test_numbers_are_normalised() -> None:
    assert number_value("£1,000") == "£1000"
    assert read("Send 1000 pounds").numbers == read("Send £1,000").numbers == read("Send a thousand pounds").numbers
    assert number_value("7pm") == "7pm"
    assert number_value("10GB") == "10"
    assert number_value("3rd") == "3"
    assert number_value("9:15") == "9:15"
    assert number_value("2FA") is None  # a code, not a number
    assert read("twenty five people and three hundred seats").numbers == ("25", "300")
    assert read("a quick one: is it open?").numbers == ()  # "one" is a pronoun as often as a number


def test_names_are_capitalised_words_that_do_not_open_a_sentence() -> None:
    reading = read("Is the Leeds branch open? Thanks, OK. Does HubSpot sync with the iPhone app?")
    assert {"leeds", "hubspot", "iphone"} <= reading.identifiers
    assert not {"is", "thanks", "ok", "does"} & reading.identifiers


def test_typos_are_one_edit_on_longer_words_only() -> None:
    assert edit_distance("perscription", "prescription") == 1
    assert typo("request", "reqest") and typo("account", "acount")
    assert not typo("lock", "lick")  # short words must match exactly
    assert not typo("suitable", "unsuitable")


WORDS = st.sampled_from(
    ["how", "do", "I", "book", "a", "table", "for", "lunch", "cancel", "my", "order", "refund", "the", "train", "time"]
)
PROMPTS = st.lists(WORDS, min_size=2, max_size=12).map(lambda ws: " ".join(ws).capitalize() + "?")


@given(PROMPTS)
def test_a_prompt_is_never_a_near_miss_of_itself_or_of_itself_said_politely(prompt: str) -> None:
    assert near_miss_reasons(prompt, prompt) == []
    assert near_miss_reasons(prompt, f"Hi, {prompt[0].lower()}{prompt[1:]} Thanks!") == []


@given(PROMPTS, st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_a_changed_number_is_always_refused(prompt: str, first: int, second: int) -> None:
    reasons = near_miss_reasons(f"{prompt} {first} items", f"{prompt} {second} items")
    assert ("numbers" in reasons) == (first != second)
