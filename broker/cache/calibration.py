"""Calibrating the semantic threshold on labelled prompt pairs. Pure: similarities in, table out.

Each pair is (``a`` cached, ``b`` new, ``same``: whether a's answer also answers b). At a
threshold ``t`` the cache would answer b from a when similarity >= t (and, with the guard,
when the near-miss guard does not object). Per threshold: precision (answers that were
right), recall (right answers found among the pairs that should hit), hit rate (pairs
answered from the cache), and a 95 % Wilson lower bound on the precision, because a few
hundred pairs pin a precision of 0.99 down only loosely.

The recommendation is the lowest threshold, with the guard, whose precision reaches the
target there *and at every higher threshold* (precision is not monotonic in the threshold:
a lone point that happens to reach the target is not a safe setting).

Two thresholds are calibrated, because the guard sorts the pairs it lets through into two
kinds: those it reads as the *same words* (every content word matched, after synonyms,
inflections and typos) and free rewordings. Typos and synonyms move MiniLM's vector a long
way ("reqest a repeat perscription": cosine 0.42) without moving the meaning, so the
same-words pairs are recommended their own, lower, threshold from their own rows; the
rewording threshold is then the lowest at which the two together still reach the target.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool
    kind: str = ""
    id: str = ""


@dataclass(frozen=True)
class Row:
    threshold: float
    guard: bool
    hits: int
    true_hits: int
    false_hits: int
    precision: float | None
    precision_low95: float | None
    recall: float
    hit_rate: float
    subset: str = "all"
    """"all" pairs, or only those the guard reads as the "same words"."""
    same_words_threshold: float | None = None
    """Where set: a same-words pair needed only this similarity (the two-threshold rule)."""


def load_pairs(path: Path) -> list[Pair]:
    """A JSONL file of ``{"a", "b", "same"}`` objects (``kind`` and ``id`` kept when present)."""
    pairs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        for field in ("a", "b", "same"):
            if field not in row:
                raise ValueError(f"{path}:{number}: missing field {field!r}")
        kind, ident = str(row.get("kind", "")), str(row.get("id", ""))
        pairs.append(Pair(str(row["a"]), str(row["b"]), bool(row["same"]), kind, ident))
    return pairs


def wilson_low(successes: int, trials: int, z: float = 1.96) -> float | None:
    if trials == 0:
        return None
    p = successes / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - margin) / (1 + z * z / trials)


def thresholds(low: float = 0.5, high: float = 0.99, step: float = 0.01) -> list[float]:
    count = round((high - low) / step) + 1
    return [round(low + i * step, 4) for i in range(count)]


def needed_similarity(threshold: float, same_words_threshold: float | None, same_words: bool) -> float:
    """The similarity a pair needs: the lower same-words threshold when the guard reads it as
    the same words (the lookup's rule, ``workers.cache.service``), else ``threshold``."""
    if same_words and same_words_threshold is not None:
        return min(threshold, same_words_threshold)
    return threshold


def evaluate(
    pairs: Sequence[Pair],
    similarity: Sequence[float],
    guard_ok: Sequence[bool],
    threshold: float,
    guard: bool,
    same_words: Sequence[bool] | None = None,
    same_words_threshold: float | None = None,
    subset: str = "all",
) -> Row:
    """Figures at ``threshold`` over ``pairs`` (recall against all of their positives). With
    ``same_words`` and ``same_words_threshold`` (and the guard), a pair the guard reads as the
    same words is a hit from that lower threshold already."""
    positives = sum(1 for p in pairs if p.same)
    lower = same_words if same_words is not None and same_words_threshold is not None and guard else None
    true_hits = false_hits = 0
    for i, (pair, sim, ok) in enumerate(zip(pairs, similarity, guard_ok, strict=True)):
        needed = needed_similarity(threshold, same_words_threshold, lower is not None and lower[i])
        if sim >= needed and (ok or not guard):
            if pair.same:
                true_hits += 1
            else:
                false_hits += 1
    hits = true_hits + false_hits
    low = wilson_low(true_hits, hits)
    return Row(
        threshold=threshold,
        guard=guard,
        hits=hits,
        true_hits=true_hits,
        false_hits=false_hits,
        precision=round(true_hits / hits, 4) if hits else None,
        precision_low95=round(low, 4) if low is not None else None,
        recall=round(true_hits / positives, 4) if positives else 0.0,
        hit_rate=round(hits / len(pairs), 4) if pairs else 0.0,
        subset=subset,
        same_words_threshold=same_words_threshold if lower is not None else None,
    )


def table(
    pairs: Sequence[Pair], similarity: Sequence[float], guard_ok: Sequence[bool], levels: Sequence[float]
) -> list[Row]:
    return [evaluate(pairs, similarity, guard_ok, t, guard) for guard in (True, False) for t in levels]


def same_words_table(
    pairs: Sequence[Pair],
    similarity: Sequence[float],
    guard_ok: Sequence[bool],
    same_words: Sequence[bool],
    levels: Sequence[float],
) -> list[Row]:
    """Rows over the same-words pairs only (hits among them; recall against every positive)."""
    positives = sum(1 for p in pairs if p.same)
    chosen = [i for i, same in enumerate(same_words) if same and guard_ok[i]]
    sub_pairs = [pairs[i] for i in chosen]
    rows = []
    for t in levels:
        row = evaluate(sub_pairs, [similarity[i] for i in chosen], [True] * len(chosen), t, True, subset="same words")
        recall = round(row.true_hits / positives, 4) if positives else 0.0
        hit_rate = round(row.hits / len(pairs), 4) if pairs else 0.0
        rows.append(Row(**{**asdict(row), "recall": recall, "hit_rate": hit_rate}))
    return rows


def recommend(rows: Sequence[Row], target: float, guard: bool = True) -> Row | None:
    """The lowest threshold whose precision reaches ``target`` there and at every higher one."""
    chosen = None
    for row in sorted((r for r in rows if r.guard == guard), key=lambda r: r.threshold, reverse=True):
        if row.precision is not None and row.precision < target:
            break
        if row.hits:
            chosen = row
    return chosen


def recommend_two(
    pairs: Sequence[Pair],
    similarity: Sequence[float],
    guard_ok: Sequence[bool],
    same_words: Sequence[bool],
    levels: Sequence[float],
    target: float,
) -> Row | None:
    """The two-threshold rule: the same-words threshold recommended from the same-words rows,
    then the lowest rewording threshold at which the rule (both thresholds together) reaches
    ``target`` there and at every higher rewording threshold."""
    same_row = recommend(same_words_table(pairs, similarity, guard_ok, same_words, levels), target)
    if same_row is None:
        return None
    rows = [
        evaluate(pairs, similarity, guard_ok, t, True, same_words, min(same_row.threshold, t))
        for t in levels
        if t >= same_row.threshold
    ]
    return recommend(rows, target)


def false_hits(
    pairs: Sequence[Pair],
    similarity: Sequence[float],
    guard_ok: Sequence[bool],
    threshold: float,
    same_words: Sequence[bool] | None = None,
    same_words_threshold: float | None = None,
) -> list[dict[str, object]]:
    """The pairs the cache would answer wrongly at ``threshold`` (and ``same_words_threshold``
    for same-words pairs) with the guard: to read, since the labels may be wrong too."""
    wrong = []
    for i, (pair, sim, ok) in enumerate(zip(pairs, similarity, guard_ok, strict=True)):
        lower = same_words is not None and same_words[i] and same_words_threshold is not None
        if not pair.same and sim >= needed_similarity(threshold, same_words_threshold, lower) and ok:
            wrong.append({**asdict(pair), "similarity": round(sim, 4), "same_words": lower})
    return wrong


def half(pairs: Sequence[Pair], part: int) -> list[int]:
    """Positions of one half of a pairs file (0: even lines, 1: odd lines): a split that keeps
    each kind of pair about evenly on both sides, for fitting on one half and checking on
    the other."""
    return [i for i in range(len(pairs)) if i % 2 == part]
