"""Routing again at admission: the head of each queued job's remaining chain, by health now.

A job's candidates were ordered at submit; by the time it reaches the head of its queue
(or comes back after a failure) a circuit may have opened, a model may be cooling after
a 429, a recovering model may be ready for its half-open probe, or a model skipped at
submit may be healthy again. The router (``broker.router.route``) orders the remaining
candidates afresh from the routing table's order (``preferred``); when the head changes the
new order is stored with a compare-and-set (``reroute.lua``) so the worker and the
fallback plan see the chain the job actually runs. Cost: one cached snapshot per round
and a few microseconds per job; Redis is touched only when the head changes or a probe
is claimed. The scheduler reads health once per admission round (one pipelined read), not
from a cache: a job requeued because a circuit just opened must see it open.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

from broker.health.breaker import HEALTHY, ModelHealth
from broker.health.store import HealthStore
from broker.jobstore.lifecycle import JobLifecycle, QueuedJob
from broker.router import Route, RouterSettings, route


class Rerouter:
    def __init__(self, lifecycle: JobLifecycle, health: HealthStore, settings: RouterSettings) -> None:
        self.lifecycle = lifecycle
        self.health = health
        self.settings = settings

    async def snapshot(self) -> dict[str, ModelHealth]:
        return await self.health.snapshot()

    async def apply(self, jobs: list[QueuedJob], snapshot: dict[str, ModelHealth]) -> list[QueuedJob]:
        """The jobs to offer admission, each with its head model decided; a job whose record
        moved meanwhile is left for the next round. ``snapshot`` is updated in place with the
        probes claimed, so the next team's jobs see them."""
        now_ms = time.time() * 1000
        out: list[QueuedJob] = []
        for job in jobs:
            remaining = job.candidates[job.cursor :]
            if not remaining:
                out.append(job)
                continue
            if job.preferred:  # route from the table's order, so a recovered cheaper model comes first again
                rank = {model: i for i, model in enumerate(job.preferred)}
                remaining = tuple(sorted(remaining, key=lambda m: rank.get(m, len(rank))))
            chosen = await self._choose(job, remaining, snapshot, now_ms)
            if chosen.wait_ms > 0:  # every candidate is cooling after a 429: wait for the first
                job = replace(job, not_before_ms=max(job.not_before_ms, now_ms + chosen.wait_ms))
            if chosen.head != job.model:
                moved = await self._store_order(job, chosen)
                if moved is None:
                    continue
                job = moved
            out.append(job)
        return out

    async def _choose(self, job: QueuedJob, remaining: tuple[str, ...], snapshot: dict, now_ms: float) -> Route:
        while True:
            chosen = route(remaining, snapshot, now_ms, self.settings, job.latency_sla_ms, job.cooldowns)
            if chosen.statuses[0] != "half_open":
                return chosen
            # one probe at a time across every scheduler; later jobs this round see it taken
            claimed = await self.health.claim_probe(chosen.head, now_ms)
            held = replace(snapshot.get(chosen.head, HEALTHY), probe_until_ms=now_ms + self.health.policy.probe_ms)
            snapshot[chosen.head] = held
            if claimed:
                return chosen

    async def _store_order(self, job: QueuedJob, chosen: Route) -> QueuedJob | None:
        tokens = dict(zip(job.candidates, job.candidate_tokens, strict=True))
        names = [*job.candidates[: job.cursor], *chosen.order]
        counts = [tokens[name] for name in names]
        if not await self.lifecycle.reroute(job, names, counts):
            return None
        return replace(
            job,
            model=chosen.head,
            input_tokens=tokens[chosen.head],
            candidates=tuple(names),
            candidate_tokens=tuple(counts),
            candidates_json=json.dumps(names),
        )
