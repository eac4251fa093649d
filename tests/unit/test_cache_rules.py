"""The cache's pure rules: what is cacheable, how requests are keyed, who may purge what,
what a hit costs and saves, and the calibration maths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.auth import Principal
from broker.cache.calibration import (
    Pair,
    evaluate,
    false_hits,
    half,
    recommend,
    recommend_two,
    same_words_table,
    table,
    thresholds,
    wilson_low,
)
from broker.cache.canonical import ORG_OWNER, cache_key
from broker.cache.entries import CacheEntry, fits
from broker.cache.policy import cache_plan, storable
from broker.cache.purge import PurgeSelector, purge_selector
from broker.errors import Forbidden, InvalidRequest
from broker.pricing import cost_usd
from broker.settings import load_config, sample_config_path
from schemas.chat import JobRequest
from schemas.config import BrokerConfig
from schemas.result import AssistantMessage, ChatCompletion, Choice, CompletionUsage
from workers.cache.job import CachedJob
from workers.cache.outcome import hit_result, hit_usage


def config(**cache: object) -> BrokerConfig:
    base = load_config(sample_config_path())
    data = base.model_dump()
    data["teams"] = {"alpha": {}, "beta": {}, "gamma": {}, "delta": {}}
    data["cache"] = {**data["cache"], "org_scope_teams": ["gamma", "delta"], **cache}
    return BrokerConfig.model_validate(data)


def request(text: str = "How do I reset my password?", **fields: object) -> JobRequest:
    body: dict[str, object] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    body.update(fields)
    return JobRequest.model_validate(body)


# -- what is cacheable ----------------------------------------------------------------------


def test_only_deterministic_requests_are_cached_by_default() -> None:
    cache = config().cache
    assert cache_plan(request(temperature=0), cache).read
    assert not cache_plan(request(temperature=0.7), cache).read
    assert not cache_plan(request(), cache).write  # unset: the provider default, 1
    assert cache_plan(request(temperature=0.7), config(max_temperature=None).cache).read


def test_the_request_says_use_refresh_or_bypass() -> None:
    cache = config().cache
    bypass = cache_plan(request(temperature=0, cache={"mode": "bypass"}), cache)
    refresh = cache_plan(request(temperature=0, cache={"mode": "refresh"}), cache)
    explicit = cache_plan(request(temperature=0.9, cache={"mode": "use", "threshold": 0.9}), cache)
    assert (bypass.read, bypass.write) == (False, False)
    assert (refresh.read, refresh.write) == (False, True)
    assert (explicit.read, explicit.write, explicit.threshold) == (True, True, 0.9)
    assert not cache_plan(request(temperature=0), config(enabled=False).cache).read


def test_same_words_get_their_own_threshold_unless_the_request_sets_one() -> None:
    plain = cache_plan(request(temperature=0), config(threshold=0.8, same_words_threshold=0.6).cache)
    assert (plain.threshold, plain.same_words_threshold) == (0.8, 0.6)
    capped = cache_plan(request(temperature=0), config(threshold=0.7, same_words_threshold=0.9).cache)
    assert capped.same_words_threshold == 0.7  # never stricter than a rewording
    strict = cache_plan(request(temperature=0, cache={"threshold": 0.97}), config(same_words_threshold=0.5).cache)
    assert (strict.threshold, strict.same_words_threshold) == (0.97, 0.97)


def completion(finish: str | None, content: str | None = "an answer") -> ChatCompletion:
    return ChatCompletion(
        id="x",
        created=0,
        model="gpt-4o-mini",
        choices=[Choice(message=AssistantMessage(content=content), finish_reason=finish)],  # type: ignore[arg-type]
        usage=CompletionUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
    )


def test_truncated_filtered_or_empty_answers_are_never_stored() -> None:
    assert storable(completion("stop"))
    assert not storable(completion("length"))
    assert not storable(completion("content_filter"))
    assert not storable(completion("stop", content=""))


# -- keys ------------------------------------------------------------------------------------


def test_the_scope_holds_everything_but_the_last_user_turn() -> None:
    cfg = config()
    base = cache_key(request(temperature=0), "alpha", cfg)
    assert base.query == "How do I reset my password?"
    assert cache_key(request("How can I reset my password?", temperature=0), "alpha", cfg).scope_id == base.scope_id
    assert cache_key(request(temperature=0, max_tokens=10), "alpha", cfg) == base  # not part of the key
    assert cache_key(request(temperature=0, metadata={"feature": "x"}), "alpha", cfg) == base
    for other in (
        cache_key(request(temperature=0), "beta", cfg),
        cache_key(request(temperature=0, model="gpt-4o"), "alpha", cfg),
        cache_key(request(temperature=0, seed=7), "alpha", cfg),
        cache_key(request(temperature=0, response_format={"type": "json_object"}), "alpha", cfg),
        cache_key(
            JobRequest.model_validate(
                {
                    "model": "gpt-4o-mini",
                    "temperature": 0,
                    "messages": [
                        {"role": "system", "content": "Answer in French."},
                        {"role": "user", "content": "How do I reset my password?"},
                    ],
                }
            ),
            "alpha",
            cfg,
        ),
    ):
        assert other.scope_id != base.scope_id and other.entry_id != base.entry_id


def test_teams_have_their_own_scope_unless_configured_org_wide() -> None:
    cfg = config()
    alpha, beta = cache_key(request(), "alpha", cfg), cache_key(request(), "beta", cfg)
    gamma, delta = cache_key(request(), "gamma", cfg), cache_key(request(), "delta", cfg)
    assert (alpha.owner, beta.owner, gamma.owner) == ("alpha", "beta", ORG_OWNER)
    assert alpha.scope_id != beta.scope_id
    assert gamma == delta


def test_a_conversation_not_ending_on_a_user_turn_is_exact_only() -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How"}],
    }
    key = cache_key(JobRequest.model_validate(body), "alpha", config())
    assert key.query is None


@given(st.text(min_size=1, max_size=50), st.text(min_size=1, max_size=50))
def test_different_queries_never_share_an_entry(first: str, second: str) -> None:
    cfg = config()
    same = cache_key(request(first), "alpha", cfg).entry_id == cache_key(request(second), "alpha", cfg).entry_id
    assert same == (first == second)


# -- purging ---------------------------------------------------------------------------------


def principal(team: str, admin: bool = False) -> Principal:
    return Principal(team=team, user="u", key_id="k", admin=admin)


def test_a_team_purges_its_own_cache_and_only_an_admin_more() -> None:
    cfg = config()
    assert purge_selector(principal("alpha"), cfg) == PurgeSelector("alpha")
    by_template = purge_selector(principal("alpha"), cfg, template_id="t", template_version=2)
    assert by_template == PurgeSelector("alpha", "t", 2)
    with pytest.raises(Forbidden):
        purge_selector(principal("alpha"), cfg, team="beta")
    with pytest.raises(Forbidden):
        purge_selector(principal("alpha"), cfg, every_team=True)
    with pytest.raises(Forbidden):  # gamma shares the org-wide cache with delta
        purge_selector(principal("gamma"), cfg)
    assert purge_selector(principal("alpha", admin=True), cfg, team="beta") == PurgeSelector("beta")
    assert purge_selector(principal("alpha", admin=True), cfg, team="gamma") == PurgeSelector(ORG_OWNER)
    assert purge_selector(principal("alpha", admin=True), cfg, every_team=True) == PurgeSelector(None)


def test_purge_requests_that_make_no_sense_are_422s_naming_the_field() -> None:
    cfg = config()
    cases = {
        "template_version": {"template_version": 3},
        "team": {"team": "nobody"},
    }
    for field, kwargs in cases.items():
        with pytest.raises(InvalidRequest) as raised:
            purge_selector(principal("alpha", admin=True), cfg, **kwargs)  # type: ignore[arg-type]
        assert raised.value.param == field
    with pytest.raises(InvalidRequest):
        purge_selector(principal("alpha", admin=True), cfg, team="beta", every_team=True)


# -- what a hit leaves behind ----------------------------------------------------------------


def entry(completion_tokens: int = 40) -> CacheEntry:
    return CacheEntry(
        id="e",
        owner="alpha",
        scope_id="s",
        query="q",
        answer="cached answer",
        finish_reason="stop",
        model="gpt-4o-mini",
        prompt_tokens=12,
        completion_tokens=completion_tokens,
        created_at=0,
        source_job="job_1",
    )


def job(candidates: list[str]) -> CachedJob:
    return CachedJob(
        id="job_abc",
        team="alpha",
        user="u",
        key_id="k",
        feature="faq",
        state="queued",
        stage="cache",
        candidates=candidates,
        input_tokens=15,
        created_at=100.0,
        request=request(temperature=0),
        model="",
        result=None,
        usage=None,
    )


def test_a_hit_costs_nothing_and_saves_what_the_first_candidate_would_have_charged() -> None:
    cfg = config()
    usage = hit_usage(job(["gpt-4o", "claude-sonnet"]), entry(40), cfg, finished_at=100.25)
    assert usage.cache_hit and usage.state == "succeeded" and usage.attempt == 0 and usage.provider is None
    assert (usage.input_tokens, usage.output_tokens, usage.cost_usd) == (0, 0, 0.0)
    assert usage.saved_usd == pytest.approx(cost_usd(cfg.models["gpt-4o"].price, 15, 40))
    assert usage.saved_usd == pytest.approx((15 * 2.50 + 40 * 10.00) / 1e6)
    assert usage.latency_ms == pytest.approx(250)
    result = hit_result(job(["gpt-4o"]), entry(40), created=123)
    assert result.text() == "cached answer" and result.usage.total_tokens == 55 and result.model == "gpt-4o-mini"


def test_an_answer_longer_than_the_new_cap_does_not_fit() -> None:
    assert fits(entry(40), None) and fits(entry(40), 40) and not fits(entry(40), 39)


# -- calibration -----------------------------------------------------------------------------

PAIRS = [Pair("a", "b", True), Pair("c", "d", True), Pair("e", "f", False), Pair("g", "h", False)]


def test_precision_recall_and_hit_rate_at_a_threshold() -> None:
    row = evaluate(PAIRS, [0.9, 0.7, 0.95, 0.6], [True, True, False, True], threshold=0.65, guard=True)
    assert (row.true_hits, row.false_hits, row.hits) == (2, 0, 2)
    assert (row.precision, row.recall, row.hit_rate) == (1.0, 1.0, 0.5)
    unguarded = evaluate(PAIRS, [0.9, 0.7, 0.95, 0.6], [True, True, False, True], threshold=0.65, guard=False)
    assert (unguarded.false_hits, unguarded.precision) == (1, pytest.approx(2 / 3, abs=1e-4))


def test_the_recommendation_is_the_lowest_threshold_that_stays_precise_above_it() -> None:
    # precision reaches 1.0 at 0.62 by luck, dips at 0.7, and holds from 0.8 up
    sims = [0.95, 0.85, 0.75, 0.62, 0.61]
    pairs = [Pair("", "", True), Pair("", "", True), Pair("", "", False), Pair("", "", True), Pair("", "", False)]
    rows = table(pairs, sims, [True] * 5, thresholds(0.6, 0.95, 0.01))
    chosen = recommend(rows, target=0.99)
    assert chosen is not None and chosen.threshold == 0.76
    assert recommend(rows, target=0.99, guard=False) == recommend(
        [r for r in rows if not r.guard], target=0.99, guard=False
    )


def test_same_words_pairs_hit_from_their_own_threshold() -> None:
    pairs = [Pair("", "", True), Pair("", "", True), Pair("", "", False), Pair("", "", True)]
    sims, ok, same = [0.9, 0.55, 0.7, 0.6], [True, True, True, True], [False, True, False, False]
    one = evaluate(pairs, sims, ok, 0.8, True)
    two = evaluate(pairs, sims, ok, 0.8, True, same, 0.5)
    assert (one.true_hits, two.true_hits, two.false_hits, two.same_words_threshold) == (1, 2, 0, 0.5)
    assert evaluate(pairs, sims, ok, 0.8, False, same, 0.5).true_hits == 1  # no guard, no same-words reading
    assert false_hits(pairs, sims, ok, 0.65, same, 0.5)[0]["similarity"] == 0.7


def test_the_two_thresholds_are_recommended_from_their_own_pairs() -> None:
    # same-words pairs: right from 0.55 up; rewordings: a false hit at 0.72, right from 0.8 up
    pairs = [Pair("", "", s) for s in (True, True, True, False, True, False)]
    sims = [0.56, 0.9, 0.85, 0.72, 0.83, 0.52]
    ok = [True] * 6
    same = [True, True, False, False, False, True]
    levels = thresholds(0.5, 0.95, 0.01)
    same_row = recommend(same_words_table(pairs, sims, ok, same, levels), 0.99)
    assert same_row is not None and same_row.threshold == 0.53 and same_row.subset == "same words"
    chosen = recommend_two(pairs, sims, ok, same, levels, 0.99)
    assert chosen is not None and (chosen.threshold, chosen.same_words_threshold) == (0.73, 0.53)
    assert (chosen.true_hits, chosen.false_hits, chosen.recall) == (4, 0, 1.0)


def test_halves_split_a_file_in_two_alternating_parts() -> None:
    pairs = [Pair(str(i), "", True) for i in range(7)]
    assert half(pairs, 0) == [0, 2, 4, 6] and half(pairs, 1) == [1, 3, 5]


def test_wilson_bound_is_below_the_observed_precision() -> None:
    low = wilson_low(126, 126)
    assert low is not None and 0.96 < low < 1.0
    assert wilson_low(0, 0) is None


def test_purges_select_chroma_collections_by_owner_and_template() -> None:
    from workers.cache.vectors import selected

    faq_v2 = {"owner": "alpha", "scope": "s", "template_id": "faq", "template_version": 2}
    plain = {"owner": "alpha", "scope": "s2"}
    assert selected(faq_v2, PurgeSelector(None).as_dict()) and selected(plain, PurgeSelector(None).as_dict())
    assert selected(faq_v2, PurgeSelector("alpha").as_dict()) and not selected(faq_v2, PurgeSelector("beta").as_dict())
    assert selected(faq_v2, PurgeSelector(None, "faq").as_dict())
    assert selected(faq_v2, PurgeSelector("alpha", "faq", 2).as_dict())
    assert not selected(faq_v2, PurgeSelector("alpha", "faq", 1).as_dict())
    assert not selected(plain, PurgeSelector("alpha", "faq").as_dict())


def test_org_scope_teams_must_be_configured_teams() -> None:
    data = load_config(sample_config_path()).model_dump()
    data["cache"]["org_scope_teams"] = ["nobody"]
    with pytest.raises(ValueError, match=r"cache\.org_scope_teams"):
        BrokerConfig.model_validate(data)
