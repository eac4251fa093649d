"""Benchmark routing: the router's decision time, the tier classifier's accuracy per tier on
the labelled prompt set, and the cost of the routed mix against always using the top tier.

1. Decision time: ``broker.router.route`` on a three-model chain with a health snapshot of
   mixed states (the scheduler's per-job decision), and the whole submit-time decision
   (classify ``tier: auto`` with the heuristic, candidates, route). Per-call times from
   batches of calls, so the clock's own cost is spread out.
2. Accuracy: the heuristic, and k-nearest-neighbours on all-MiniLM-L6-v2 embeddings with
   k chosen by leave-one-out on the training split, both scored on the held-out split of
   ``tests/data/routing_prompts.jsonl`` (per tier, confusion, share under-tiered).
3. Cost: each held-out prompt priced on its routed tier's first model (sample config, all
   healthy) with its input tokens and labelled output length, as a percentage of every
   prompt on the reference model (the complex tier's first, gpt-4o). Also with the
   self-hosted model left out (simple tier on gpt-4o-mini), and for perfect labels. The set
   is a third per tier by count, and complex prompts carry most of the output tokens; the
   same per-tier behaviour is also priced at a production-like mix of 60 % simple, 30 %
   standard and 10 % complex traffic (``weighted_60_30_10``), and with the standard tier
   served by gpt-4o-mini instead of claude-3-5-haiku (how much the table's prices matter).

    python -m scripts.bench_routing [--calls 200000] [--no-embeddings]

Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from functools import cache
from pathlib import Path
from typing import Any

from broker.classifier.evaluation import (
    Labelled,
    accuracy_by_tier,
    confusion,
    mix_cost_usd,
    reference_cost_usd,
    under_tiered,
    weighted_cost_pct,
)
from broker.classifier.heuristic import classify
from broker.health.breaker import ModelHealth
from broker.router import RouterSettings, route
from broker.routing import candidate_models, resolve_tier
from broker.settings import load_config, sample_config_path
from broker.tokens import count_input_tokens
from schemas.chat import ChatMessage, JobRequest, Tier
from scripts.benchjobs import machine

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "routing_prompts.jsonl"
CONFIG = load_config(sample_config_path())


def load_rows() -> tuple[list[Labelled], list[Labelled]]:
    train: list[Labelled] = []
    test: list[Labelled] = []
    for line in DATA.read_text().splitlines():
        row = json.loads(line)
        (test if row["split"] == "test" else train).append(Labelled(row["prompt"], row["tier"], row["output_tokens"]))
    return train, test


def per_call_us(fn: Any, calls: int, batch: int = 1000) -> dict[str, float]:
    samples = []
    for _ in range(max(1, calls // batch)):
        start = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - start) / batch / 1000)
    samples.sort()
    return {
        "median_us": round(statistics.median(samples), 3),
        "p99_us": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
        "calls": len(samples) * batch,
    }


def decision_times(calls: int) -> dict[str, Any]:
    now = time.time() * 1000
    settings = RouterSettings.from_config(CONFIG)
    snapshot = {
        "gpt-4o": ModelHealth(failures=6, opened_at_ms=now - 1000, open_ms=10_000),  # open
        "claude-sonnet": ModelHealth(ewma_ms=900.0, sampled_at_ms=now - 500),
        "claude-3-5-haiku": ModelHealth(cooldown_until_ms=now + 2000),  # a 429's retry-after
        "gpt-4o-mini": ModelHealth(ewma_ms=400.0, sampled_at_ms=now - 100),
    }
    chain = ["gpt-4o", "claude-sonnet", "claude-3-5-haiku"]
    healthy_chain = ["gpt-4o-mini", "claude-3-5-haiku", "gpt-4o"]
    request = JobRequest.model_validate(
        {"tier": "auto", "messages": [{"role": "user", "content": "Explain how a hash map works internally."}]}
    )

    def submit_decision() -> None:
        route(candidate_models(request, CONFIG), snapshot, now, settings, request.latency_sla_ms)

    assert resolve_tier(request, CONFIG) == "standard"
    return {
        "route_reordering_us": per_call_us(lambda: route(chain, snapshot, now, settings), calls),
        "route_all_healthy_us": per_call_us(lambda: route(healthy_chain, snapshot, now, settings), calls),
        "submit_decision_auto_us": per_call_us(submit_decision, calls // 10),
    }


@cache
def tokens_for(prompt: str, model: str) -> int:
    return count_input_tokens([ChatMessage(role="user", content=prompt)], CONFIG.models[model].tokenizer)


def choose_k(train: list[Labelled], encoder: Any) -> tuple[int, dict[int, float]]:
    """Leave-one-out accuracy on the training split for each k; the best k (smallest on ties)."""
    from broker.classifier.embedding import vote

    matrix = encoder.encode([r.prompt for r in train], normalize_embeddings=True, convert_to_numpy=True)
    sims = matrix @ matrix.T
    scores = {}
    for k in (1, 3, 5, 7, 9, 11, 15):
        hits = 0
        for i, row in enumerate(train):
            others = [j for j in range(len(train)) if j != i]
            guess = vote([float(sims[i, j]) for j in others], [train[j].tier for j in others], k)
            hits += int(guess == row.tier)
        scores[k] = round(hits / len(train), 4)
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores


MIX: dict[Tier, float] = {"simple": 0.6, "standard": 0.3, "complex": 0.1}


def scored(test: list[Labelled], predicted: list[Tier], reference: float) -> dict[str, Any]:
    no_selfhosted: dict[Tier, str] = {"simple": "gpt-4o-mini"}
    routed = mix_cost_usd(test, predicted, CONFIG, tokens_for)
    routed_cloud = mix_cost_usd(test, predicted, CONFIG, tokens_for, no_selfhosted)
    return {
        "accuracy": accuracy_by_tier(test, predicted),
        "confusion": confusion(test, predicted),
        "under_tiered": under_tiered(test, predicted),
        "cost_pct_of_top_tier": round(100 * routed / reference, 2),
        "cost_pct_of_top_tier_without_selfhosted": round(100 * routed_cloud / reference, 2),
        "weighted_60_30_10": {
            "cost_pct_of_top_tier": weighted_cost_pct(test, predicted, CONFIG, tokens_for, MIX),
            "cost_pct_of_top_tier_without_selfhosted": weighted_cost_pct(
                test, predicted, CONFIG, tokens_for, MIX, no_selfhosted
            ),
            "cost_pct_of_top_tier_standard_on_gpt_4o_mini": weighted_cost_pct(
                test, predicted, CONFIG, tokens_for, MIX, {"standard": "gpt-4o-mini"}
            ),
        },
    }


def classifier_figures(embeddings: bool) -> dict[str, Any]:
    train, test = load_rows()
    reference = reference_cost_usd(test, CONFIG, tokens_for)
    out: dict[str, Any] = {"prompts": {"train": len(train), "test": len(test)}, "reference_model": "gpt-4o"}
    heuristic = [classify(r.prompt).tier for r in test]
    out["heuristic"] = scored(test, heuristic, reference)
    out["heuristic"]["train_accuracy"] = accuracy_by_tier(train, [classify(r.prompt).tier for r in train])
    out["heuristic"]["classify_us"] = per_call_us(lambda: classify(test[0].prompt), 20_000, 100)
    perfect = scored(test, [r.tier for r in test], reference)
    out["perfect_labels"] = {k: v for k, v in perfect.items() if k.startswith(("cost", "weighted"))}
    if embeddings:
        from broker.classifier.embedding import NearestNeighbours, load_encoder

        started = time.perf_counter()
        encoder = load_encoder()
        load_s = time.perf_counter() - started
        k, loo = choose_k(train, encoder)
        knn = NearestNeighbours([r.prompt for r in train], [r.tier for r in train], k=k, encoder=encoder)
        predicted = knn.classify_many([r.prompt for r in test])
        out["embedding_knn"] = scored(test, predicted, reference)
        started = time.perf_counter()
        for row in test[:40]:
            knn.classify(row.prompt)
        out["embedding_knn"].update(
            {
                "k": k,
                "train_leave_one_out": loo,
                "model_load_s": round(load_s, 2),
                "classify_ms": round((time.perf_counter() - started) / 40 * 1000, 2),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--no-embeddings", action="store_true", help="skip the sentence-embedding classifier")
    args = parser.parse_args()
    figures = {
        "router": decision_times(args.calls),
        "classifier": classifier_figures(not args.no_embeddings),
        "machine": machine(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
