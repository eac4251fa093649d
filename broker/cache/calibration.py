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


def evaluate(
    pairs: Sequence[Pair], similarity: Sequence[float], guard_ok: Sequence[bool], threshold: float, guard: bool
) -> Row:
    positives = sum(1 for p in pairs if p.same)
    true_hits = false_hits = 0
    for pair, sim, ok in zip(pairs, similarity, guard_ok, strict=True):
        if sim >= threshold and (ok or not guard):
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
    )


def table(
    pairs: Sequence[Pair], similarity: Sequence[float], guard_ok: Sequence[bool], levels: Sequence[float]
) -> list[Row]:
    return [evaluate(pairs, similarity, guard_ok, t, guard) for guard in (True, False) for t in levels]


def recommend(rows: Sequence[Row], target: float, guard: bool = True) -> Row | None:
    """The lowest threshold whose precision reaches ``target`` there and at every higher one."""
    chosen = None
    for row in sorted((r for r in rows if r.guard == guard), key=lambda r: r.threshold, reverse=True):
        if row.precision is not None and row.precision < target:
            break
        if row.hits:
            chosen = row
    return chosen


def false_hits(
    pairs: Sequence[Pair], similarity: Sequence[float], guard_ok: Sequence[bool], threshold: float
) -> list[dict[str, object]]:
    """The pairs the cache would answer wrongly at ``threshold`` with the guard: to read, since
    the labels may be wrong too."""
    return [
        {**asdict(pair), "similarity": round(sim, 4)}
        for pair, sim, ok in zip(pairs, similarity, guard_ok, strict=True)
        if not pair.same and sim >= threshold and ok
    ]
