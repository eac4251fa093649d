"""The provider executor: one asyncio event loop per worker process holding every call in flight.

Celery threads only hand batches over (``accept``); the loop claims the jobs under a
lease, runs them concurrently with the async SDKs on aiohttp, renews the leases while
they run and records each outcome exactly once. A semaphore bounds calls in flight, and
``accept`` blocks while it is full, which stops the worker from prefetching more.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
from concurrent.futures import Future

from broker import keys
from broker.cache.policy import cache_plan, storable
from broker.fallback import GiveUp, attempt_limit, plan_fallback
from broker.health.store import HealthStore
from broker.jobstore.lifecycle import JobLifecycle
from broker.redis_clients import async_client
from broker.settings import current_config
from schemas.chat import JobRequest
from schemas.config import BrokerConfig
from schemas.job import Attempt
from workers.accounting import Accounting, priced_usage
from workers.deadlines import call_within, deadlines_for
from workers.outcome import RunningJob, attempt_record, completion, failure_summary, usage_record
from workers.providers.base import ProviderAdapter, ProviderError
from workers.providers.registry import build_adapters
from workers.streaming import call_provider

log = logging.getLogger(__name__)


class ProviderExecutor:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="provider-executor", daemon=True)
        self._running: dict[str, RunningJob] = {}
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.redis = async_client(self.config)
        self.lifecycle = JobLifecycle(self.redis)
        self.accounting = Accounting(self.redis, self.config)
        self.health = HealthStore(self.redis, self.config)
        self.slots = asyncio.Semaphore(self.config.worker.max_in_flight)
        self.adapters: dict[str, ProviderAdapter] = build_adapters(self.config, self.config.worker.max_in_flight)
        self.loop.create_task(self._renew_leases())
        self._ready.set()
        self.loop.run_forever()

    def accept(self, items: list[tuple[str, int]]) -> int:
        """Called from a Celery thread: returns once the jobs are claimed (or skipped as stale)."""
        future: Future[int] = asyncio.run_coroutine_threadsafe(self._accept(items), self.loop)
        return future.result()

    async def _accept(self, items: list[tuple[str, int]]) -> int:
        for _ in items:
            await self.slots.acquire()
        try:
            claimed = await self.lifecycle.claim(items, self.worker_id, self.config.worker.lease_ttl_s)
        except BaseException:
            for _ in items:
                self.slots.release()
            raise
        for _ in range(len(items) - len(claimed)):
            self.slots.release()
        await self.accounting.claimed(claimed)
        for fields in claimed:
            job = RunningJob.from_fields(fields)
            self._running[job.id] = job
            self.loop.create_task(self._run_job(job))
        return len(claimed)

    def drain(self, timeout_s: float) -> int:
        """On shutdown: let calls in flight finish for up to ``timeout_s``, then hand the rest
        back to their queues at once (rather than after their leases lapse). Returns how many
        were handed back."""
        future: Future[int] = asyncio.run_coroutine_threadsafe(self._drain(timeout_s), self.loop)
        return future.result(timeout_s + 30)

    async def _drain(self, timeout_s: float) -> int:
        deadline = self.loop.time() + timeout_s
        while self._running and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        handed_back = 0
        for job in list(self._running.values()):
            record = attempt_record(job, time.time(), time.time(), "worker stopped", None, "worker_lost")
            if await self.lifecycle.requeue(
                job.id, job.team, job.attempt, record, reservation=job.reservation, advance=False
            ):
                handed_back += 1
        return handed_back

    async def _renew_leases(self) -> None:
        ttl = self.config.worker.lease_ttl_s
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                await self.lifecycle.renew(list(self._running), ttl)
            except Exception:
                log.exception("lease renewal failed")

    async def _run_job(self, job: RunningJob) -> None:
        try:
            await self._call_and_record(job)
        except Exception as exc:  # a bug must fail the job, never strand it
            log.exception("job %s crashed in the worker", job.id)
            await self._fail(job, time.time(), f"internal error: {exc!r}", None, [])
        finally:
            self._running.pop(job.id, None)
            self.slots.release()

    async def _call_and_record(self, job: RunningJob) -> None:
        model = self.config.models[job.model]
        request = JobRequest.model_validate_json(job.request_json)
        adapter = self.adapters[job.provider]
        deadlines = deadlines_for(model, self.config.providers[job.provider])
        started = time.time()
        try:
            reply = await call_within(
                lambda first_byte: call_provider(
                    adapter, job.id, job.attempt, request, model, self.redis, on_first_byte=first_byte
                ),
                deadlines,
            )
        except ProviderError as exc:
            finished = time.time()
            await self.accounting.provider_error(job.provider, job.model, exc.status)
            await self._after_error(job, exc, started, finished)
            return
        finished = time.time()
        await self._note_health(job.model, "ok", (finished - started) * 1000)
        result = completion(job, reply, int(finished))
        usage = priced_usage(self.config, job, request, finished, reply)
        done = await self.lifecycle.finish(
            job.id,
            job.attempt,
            usage,
            attempt_record(job, started, finished),
            reservation=job.reservation,
            used=(reply.input_tokens, reply.output_tokens),
            result_json=result.model_dump_json(),
        )
        if done:
            await self.accounting.after_finish(usage)
        if done and cache_plan(request, self.config.cache).write and storable(result):
            await self._send_to_cache(job.id)

    async def _send_to_cache(self, job_id: str) -> None:
        """Ask the cache worker to keep this answer (it embeds; provider workers never load torch)."""
        from broker.cache.dispatch import CacheSender
        from workers.celery_app import app

        try:
            await self.loop.run_in_executor(None, CacheSender(app).store, job_id)
        except Exception:  # the answer is delivered; only a later cache hit is lost
            log.exception("could not send job %s to the cache", job_id)

    async def _after_error(self, job: RunningJob, exc: ProviderError, started: float, finished: float) -> None:
        """Record the model's health, then fall back by requeueing (``broker.fallback``) or fail:
        fail fast on a non-retryable error, or when the chain or the attempt budget is spent."""
        if not exc.retryable:
            record = attempt_record(job, started, finished, exc.message, exc.status, "failed")
            await self._fail(job, finished, exc.message, record, await self._attempts(job))
            return
        rate_limited_ms: float | None = None
        if exc.status == 429:
            wait_s = exc.retry_after if exc.retry_after is not None else self.config.routing.default_retry_after_s
            rate_limited_ms = min(wait_s, self.config.routing.max_retry_after_s) * 1000
            await self._note_health(job.model, "rate_limited", rate_limited_ms)
        else:
            await self._note_health(job.model, "fail", 0.0)
        plan = plan_fallback(
            job.candidates or [job.model],
            job.candidate_tokens or [0],
            job.cursor,
            job.model,
            now_ms=finished * 1000,
            attempts_made=job.attempts_made,
            max_attempts=attempt_limit(len(job.candidates) or 1, self.config.routing.attempts_per_candidate),
            rate_limited_for_ms=rate_limited_ms,
            cooldowns=job.cooldowns,
        )
        record = attempt_record(job, started, finished, exc.message, exc.status, "retryable")
        reason = "all candidates failed"
        if isinstance(plan, GiveUp):
            reason = plan.reason
        else:
            requeued = await self.lifecycle.requeue(
                job.id, job.team, job.attempt, record, reservation=job.reservation, advance=plan.advance, plan=plan
            )
            if requeued != -1:
                return
        record = attempt_record(job, started, finished, exc.message, exc.status, "failed")
        await self._fail(job, finished, exc.message, record, await self._attempts(job), reason)

    async def _note_health(self, model: str, event: str, value: float) -> None:
        """Health is advice: a Redis hiccup here must not change the job's outcome."""
        try:
            if event == "ok":
                await self.health.record_success(model, value)
            elif event == "rate_limited":
                await self.health.record_rate_limited(model, value)
            else:
                await self.health.record_failure(model)
        except Exception:
            log.exception("could not record health of %s", model)

    async def _attempts(self, job: RunningJob) -> list[Attempt]:
        raw = await self.redis.hget(keys.job(job.id), "attempts")
        return [Attempt.model_validate(a) for a in json.loads(raw or "[]")]

    async def _fail(
        self,
        job: RunningJob,
        finished: float,
        error: str,
        record: Attempt | None,
        earlier: list[Attempt],
        reason: str = "all candidates failed",
    ) -> None:
        record = record or attempt_record(job, finished, finished, error, None, "failed")
        attempts = [*earlier, record]
        message = error if len(attempts) == 1 else failure_summary(attempts, reason)
        usage = usage_record(job, "failed", finished, None, None)
        await self.lifecycle.finish(
            job.id,
            job.attempt,
            usage,
            record,
            reservation=job.reservation,
            used=None,
            error=message,
            dead_letter_team=job.team,
        )


_executor: ProviderExecutor | None = None
_lock = threading.Lock()


def running_executor() -> ProviderExecutor | None:
    """The executor if this process started one (shutdown hooks must not start it)."""
    return _executor


def executor() -> ProviderExecutor:
    """The process-wide executor, started on first use by whichever Celery thread gets there."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ProviderExecutor(current_config())
        return _executor
