"""Experiment assignment: sticky, deterministic, and moving only the share that moved.

A subject (a caller-given key, else the job id) hashes with the template id to one of
``SPLIT_BUCKETS`` buckets (SHA-256, so uniform and the same on every API replica). A
*layout* gives each version a set of bucket ranges. When a split changes, the new layout
is derived from the old one: a version whose share shrinks gives up just its excess
buckets (from its highest ranges down), and versions whose share grows take just those
freed buckets. Every other bucket keeps its version, so the fraction of subjects that
change version is exactly half the total change in shares, the least any assignment can
move (90/10 → 80/20 moves 10 % of subjects, never more).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools

from schemas.prompts import SPLIT_BUCKETS

Range = tuple[int, int, int]  # [start, end) buckets, version
Layout = tuple[Range, ...]


def subject_bucket(template_id: str, subject: str) -> int:
    """A bucket in [0, SPLIT_BUCKETS), uniform over subjects and independent across templates."""
    digest = hashlib.sha256(f"{template_id}\x1f{subject}".encode(errors="surrogatepass")).digest()
    return (int.from_bytes(digest[:8], "big") * SPLIT_BUCKETS) >> 64


def shares(layout: Layout) -> dict[int, int]:
    """Buckets per version."""
    out: dict[int, int] = {}
    for start, end, version in layout:
        out[version] = out.get(version, 0) + end - start
    return out


def coalesce(ranges: list[Range]) -> Layout:
    """Sorted, with adjacent ranges of the same version merged."""
    merged: list[Range] = []
    for start, end, version in sorted(ranges):
        if merged and merged[-1][1] == start and merged[-1][2] == version:
            merged[-1] = (merged[-1][0], end, version)
        else:
            merged.append((start, end, version))
    return tuple(merged)


def initial_layout(target: dict[int, int]) -> Layout:
    """Consecutive ranges in version order."""
    ranges, start = [], 0
    for version in sorted(target):
        ranges.append((start, start + target[version], version))
        start += target[version]
    return coalesce(ranges)


def rebalance(old: Layout | None, target: dict[int, int]) -> Layout:
    """The layout for ``target`` (version → buckets, summing to SPLIT_BUCKETS) that changes
    the fewest buckets from ``old``."""
    if sum(target.values()) != SPLIT_BUCKETS or any(n < 0 for n in target.values()):
        raise ValueError(f"a split must give out exactly {SPLIT_BUCKETS} buckets")
    if not old:
        return initial_layout({v: n for v, n in target.items() if n > 0})
    have = shares(old)
    excess = {v: have[v] - target.get(v, 0) for v in have if have[v] > target.get(v, 0)}
    kept: list[Range] = []
    freed: list[tuple[int, int]] = []
    for start, end, version in sorted(old, key=lambda r: r[0], reverse=True):
        give = min(excess.get(version, 0), end - start)
        if give:
            excess[version] -= give
            freed.append((end - give, end))
        if end - give > start:
            kept.append((start, end - give, version))
    freed.sort()
    ranges = list(kept)
    for version in sorted(target):
        need = target[version] - have.get(version, 0)
        while need > 0:
            start, end = freed.pop(0)
            take = min(need, end - start)
            ranges.append((start, start + take, version))
            need -= take
            if start + take < end:
                freed.insert(0, (start + take, end))
    return coalesce(ranges)


def version_at(layout: Layout, bucket: int) -> int:
    """The version whose range holds ``bucket``."""
    starts = [start for start, _, _ in layout]
    index = bisect.bisect_right(starts, bucket) - 1
    start, end, version = layout[index]
    if not start <= bucket < end:
        raise ValueError(f"bucket {bucket} is outside the layout")
    return version


def assign(layout: Layout, template_id: str, subject: str) -> int:
    return version_at(layout, subject_bucket(template_id, subject))


def moved_buckets(old: Layout, new: Layout) -> int:
    """Buckets whose version differs between two layouts."""
    cuts = sorted({0, SPLIT_BUCKETS, *(r[0] for r in old), *(r[0] for r in new)})
    moved = 0
    for start, end in itertools.pairwise(cuts):
        if version_at(old, start) != version_at(new, start):
            moved += end - start
    return moved
