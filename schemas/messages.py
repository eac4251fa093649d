"""The Celery message between the scheduler and the provider workers.

The scheduler sends task ``RUN_JOBS_TASK`` to queue ``provider.<name>`` with one argument:
a list of ``[job_id, attempt]`` pairs. Several jobs ride one message because the
per-message cost of Celery, not the provider call, bounds throughput. ``attempt`` lets a
worker recognise a stale redelivery of a job that has since moved on.
"""

from __future__ import annotations

RUN_JOBS_TASK = "llm_broker.run_jobs"


def provider_queue(provider: str) -> str:
    return f"provider.{provider}"


DispatchItem = tuple[str, int]


# The cache worker's queue and tasks. Each carries one job id (the purge: a filter dict); the
# worker reads everything else from the job's record, so a redelivered message is harmless.
CACHE_QUEUE = "cache"
CACHE_LOOKUP_TASK = "llm_broker.cache_lookup"  # before admission: answer from the cache or send on
CACHE_STORE_TASK = "llm_broker.cache_store"  # after a provider answer: keep it
CACHE_PURGE_TASK = "llm_broker.cache_purge"  # drop vectors whose entries were purged
