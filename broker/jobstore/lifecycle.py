"""State transitions after submission: admit, claim, renew, finish, requeue, reap, reject.

Each transition is one Lua script, so it is atomic across any number of schedulers and
workers, and each moves the job's token reservation with it (taken at admission, settled
against real usage at finish, released on requeue). The Python here only assembles keys
and arguments and decodes answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from broker import keys
from broker.admission.limits import Charge
from broker.budgets.counters import finish_counters
from broker.fallback import Requeue
from broker.jobstore.lua import register
from broker.jobstore.records import JOB_TTL_S, decode_hash, pairs_to_dict
from schemas.job import Attempt
from schemas.usage import UsageRecord

PACKAGE = "broker.jobstore"
HOOKED = ("buckets", "final_hooks")  # preludes of the scripts that end a job


def final_hook_keys(first_index: int) -> tuple[list[str], int]:
    """The keys ``final_hooks.lua`` touches (webhooks due, batches due, batch counters) and
    the 1-based KEYS index they start at, for a script whose other keys end before it."""
    return [keys.WEBHOOKS_DUE, keys.BATCHES_DUE, keys.BATCH_COUNTS], first_index


@dataclass(frozen=True)
class QueuedJob:
    """What the scheduler needs to decide on a job at the head of a team queue."""

    id: str
    team: str
    key_id: str
    model: str
    input_tokens: int
    max_tokens: int | None
    not_before_ms: float = 0.0
    # routing: the chain as stored (remaining = candidates[cursor:]), for the scheduler's router
    candidates: tuple[str, ...] = ()
    cursor: int = 0
    candidate_tokens: tuple[int, ...] = ()
    cooldowns: dict[str, float] = field(default_factory=dict)
    latency_sla_ms: float | None = None
    candidates_json: str = ""
    preferred: tuple[str, ...] = ()  # the routing table's order (cheapest adequate first)


@dataclass(frozen=True)
class Expired:
    job_id: str
    team: str
    attempt: int
    state: str
    provider: str
    model: str
    reservation: str
    fields: dict[str, str] = field(default_factory=dict)  # the whole record, for the attempt bound

    @property
    def attempts_made(self) -> int:
        return self.attempt - int(self.fields.get("attempt_base") or 0)

    @property
    def n_candidates(self) -> int:
        return int(self.fields.get("n_candidates") or 1)


def reservation_keys(reservation: str | None) -> list[str]:
    """The bucket keys of a stored reservation, in its order (they go to KEYS)."""
    return [entry["k"] for entry in json.loads(reservation)] if reservation else []


def _admit_args(jobs: Sequence[tuple[QueuedJob, str, list[Charge]]]) -> tuple[list[str], list[str | float | int]]:
    job_keys: list[str] = []
    args: list[str | float | int] = []
    for job, provider, charges in jobs:
        job_keys.append(keys.job(job.id))
        job_keys.extend(c.key for c in charges)
        args.extend([job.id, job.model, provider, len(charges)])
        for c in charges:
            args.extend([repr(c.capacity), repr(c.rate), repr(c.cost), c.axis])
    return job_keys, args


class JobLifecycle:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._admit = register(redis, PACKAGE, "admit", prelude="buckets")
        self._claim = register(redis, PACKAGE, "claim")
        self._finish = register(redis, PACKAGE, "finish", prelude=HOOKED)
        self._requeue = register(redis, PACKAGE, "requeue", prelude="buckets")
        self._reject = register(redis, PACKAGE, "reject", prelude=HOOKED)
        self._reroute = register(redis, PACKAGE, "reroute")

    async def active_teams(self) -> list[str]:
        members = await self.redis.smembers(keys.ACTIVE_TEAMS)
        return sorted(t.decode() if isinstance(t, bytes) else t for t in members)

    async def peek(self, team: str, count: int) -> list[QueuedJob]:
        """The first ``count`` jobs of a team's queue, with what admission needs to know."""
        members: Any = await self.redis.zrange(keys.team_queue(team), 0, count - 1)
        ids = [member.decode() for member in members]
        if not ids:
            return []
        fields = (
            "candidates",
            "cursor",
            "candidate_tokens",
            "max_tokens",
            "key_id",
            "not_before",
            "cooldowns",
            "latency_sla_ms",
            "preferred",
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(keys.job(job_id), *fields)
            rows = await pipe.execute()
        jobs = []
        for job_id, row in zip(ids, rows, strict=True):
            candidates, cursor, tokens, max_tokens, key_id, not_before, cooldowns, sla, preferred = (
                v.decode() if isinstance(v, bytes) else v for v in row
            )
            if candidates is None:  # expired or deleted record: drop the dangling queue entry
                await self.redis.zrem(keys.team_queue(team), job_id)
                continue
            index = int(cursor)
            names = json.loads(candidates)
            counts = json.loads(tokens)
            jobs.append(
                QueuedJob(
                    id=job_id,
                    team=team,
                    key_id=key_id,
                    model=names[index],
                    input_tokens=int(counts[index]),
                    max_tokens=int(max_tokens) if max_tokens else None,
                    not_before_ms=float(not_before) if not_before else 0.0,
                    candidates=tuple(names),
                    cursor=index,
                    candidate_tokens=tuple(int(c) for c in counts),
                    cooldowns={k: float(v) for k, v in json.loads(cooldowns).items()} if cooldowns else {},
                    latency_sla_ms=float(sla) if sla else None,
                    candidates_json=candidates,
                    preferred=tuple(json.loads(preferred)) if preferred else (),
                )
            )
        return jobs

    async def admit(
        self,
        team: str,
        jobs: Sequence[tuple[QueuedJob, str, list[Charge]]],
        claim_timeout_s: float,
        now_ms: float | None = None,
    ) -> tuple[list[int], float | None]:
        """Admit (job, provider, charges) in order while their buckets have room.

        Returns the attempt number of each job admitted or skipped (0: another scheduler took
        it), up to but not including a job that did not fit,
        and, when a job did not fit, the milliseconds until it would."""
        if not jobs:
            return [], None
        job_keys, args = _admit_args(jobs)
        answer = await self._admit(
            keys=[keys.team_queue(team), keys.DISPATCHED, keys.ACTIVE_TEAMS, *job_keys],
            args=[team, int(claim_timeout_s * 1000), "" if now_ms is None else repr(now_ms), len(jobs), *args],
        )
        *attempts, wait = (int(x) for x in answer)
        return attempts, (None if wait < 0 else float(wait))

    async def reject(self, job: QueuedJob, error: str, usage_json: str) -> bool:
        """Fail a queued job that can never be admitted."""
        hook_keys, base = final_hook_keys(5)
        done = await self._reject(
            keys=[
                keys.job(job.id),
                keys.team_queue(job.team),
                keys.ACTIVE_TEAMS,
                keys.USAGE_STREAM,
                *hook_keys,
                keys.dead_letters(job.team),
            ],
            args=[job.id, job.team, error, usage_json, keys.JOBS_DONE_CHANNEL, JOB_TTL_S, base, base + len(hook_keys)],
        )
        return bool(done)

    async def claim(self, items: list[tuple[str, int]], worker: str, lease_s: float) -> list[dict[str, str]]:
        """Claim dispatched jobs; returns the records of those this worker now runs."""
        if not items:
            return []
        claimed = await self._claim(
            keys=[keys.LEASES, keys.DISPATCHED, *(keys.job(job_id) for job_id, _ in items)],
            args=[int(lease_s * 1000), worker, *(attempt for _, attempt in items)],
        )
        return [pairs_to_dict(flat) for flat in claimed]

    async def renew(self, job_ids: list[str], lease_s: float) -> None:
        """Extend the leases of running jobs (XX: never resurrect a lease the reaper took)."""
        if not job_ids:
            return
        seconds, micros = await self.redis.time()
        deadline = seconds * 1000 + micros // 1000 + int(lease_s * 1000)
        await self.redis.zadd(keys.LEASES, dict.fromkeys(job_ids, deadline), xx=True)

    async def finish(
        self,
        job_id: str,
        attempt: int,
        usage: UsageRecord,
        attempt_record: Attempt,
        *,
        reservation: str | None,
        used: tuple[int, int] | None,
        result_json: str = "",
        error: str = "",
        now_ms: float | None = None,
        dead_letter_team: str | None = None,
    ) -> bool:
        """Record the final outcome (``usage.state``) once, settle the reservation against
        ``used`` (input, output tokens; None releases it all), apply the usage's spend and
        stats increments (derived here, so no way of ending a job can leave them out) and run
        the final-state hooks, all in one atomic step. False when this delivery is stale. A
        failed job with ``dead_letter_team`` lands in that team's dead-letter list in the
        same step."""
        counters = finish_counters(usage)
        month = counters.month
        held = reservation_keys(reservation)
        hook_keys, base = final_hook_keys(6 + len(held))
        dead = [keys.dead_letters(dead_letter_team)] if dead_letter_team is not None else []
        done = await self._finish(
            keys=[
                keys.job(job_id),
                keys.LEASES,
                keys.USAGE_STREAM,
                keys.spend(month),
                keys.STATS,
                *held,
                *hook_keys,
                *dead,
            ],
            args=[
                attempt,
                usage.state,
                result_json,
                usage.model_dump_json(),
                attempt_record.model_dump_json(),
                error,
                keys.JOBS_DONE_CHANNEL,
                job_id,
                JOB_TTL_S,
                "" if used is None else used[0],
                "" if used is None else used[1],
                "" if now_ms is None else repr(now_ms),
                keys.SCHEDULER_WAKE,
                counters.as_json(),
                base,
                base + len(hook_keys) if dead else "",
            ],
        )
        return bool(done)

    async def requeue(
        self,
        job_id: str,
        team: str,
        attempt: int,
        record: Attempt,
        *,
        reservation: str | None,
        advance: bool,
        only_if_expired: bool = False,
        not_before_ms: float | None = None,
        now_ms: float | None = None,
        plan: Requeue | None = None,
    ) -> int:
        """Back to the team queue, reservation released: 1 done, 0 stale, -1 no candidate left.
        With a fallback ``plan``, its reordered chain, cooldowns and not-before are stored too."""
        if plan is not None:
            advance = plan.advance
            not_before_ms = plan.not_before_ms
        chain = (
            [json.dumps(plan.candidates), json.dumps(plan.tokens), json.dumps(plan.cooldowns)]
            if plan is not None
            else []
        )
        return int(
            await self._requeue(
                keys=[
                    keys.job(job_id),
                    keys.LEASES,
                    keys.DISPATCHED,
                    keys.team_queue(team),
                    keys.ACTIVE_TEAMS,
                    *reservation_keys(reservation),
                ],
                args=[
                    attempt,
                    record.model_dump_json(),
                    int(advance),
                    int(only_if_expired),
                    job_id,
                    team,
                    "" if not_before_ms is None else int(not_before_ms),
                    "" if now_ms is None else repr(now_ms),
                    keys.SCHEDULER_WAKE,
                    *chain,
                ],
            )
        )

    async def reroute(self, job: QueuedJob, candidates: list[str], tokens: list[int]) -> bool:
        """Store a new order of a queued job's remaining candidates, if nothing moved meanwhile."""
        done = await self._reroute(
            keys=[keys.job(job.id), keys.team_queue(job.team)],
            args=[job.id, job.candidates_json, job.cursor, json.dumps(candidates), json.dumps(tokens)],
        )
        return bool(done)

    async def expired(self, limit: int = 500) -> list[Expired]:
        """Running jobs whose lease lapsed and admitted jobs nobody claimed in time."""
        seconds, micros = await self.redis.time()
        now_ms = seconds * 1000 + micros // 1000
        ids = [
            *(await self.redis.zrangebyscore(keys.LEASES, 0, now_ms, start=0, num=limit)),
            *(await self.redis.zrangebyscore(keys.DISPATCHED, 0, now_ms, start=0, num=limit)),
        ]
        found = []
        for raw_id in ids:
            job_id = raw_id.decode()
            fields = decode_hash(await self.redis.hgetall(keys.job(job_id)))
            if not fields:
                await self.redis.zrem(keys.LEASES, job_id)
                await self.redis.zrem(keys.DISPATCHED, job_id)
                continue
            found.append(
                Expired(
                    job_id,
                    fields["team"],
                    int(fields["attempt"]),
                    fields["state"],
                    fields.get("provider", ""),
                    fields.get("model", ""),
                    fields.get("reservation", ""),
                    fields,
                )
            )
        return found
