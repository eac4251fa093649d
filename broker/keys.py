"""Every Redis key the broker and its workers use, in one place.

All keys share the ``lb:`` prefix so a shared Redis can be inspected or flushed safely.
"""

from __future__ import annotations

PREFIX = "lb:"

JOBS_DONE_CHANNEL = f"{PREFIX}jobs:done"  # pub/sub: a job id each time a job reaches a final state
SCHEDULER_WAKE = f"{PREFIX}scheduler:wake"  # list the scheduler blocks on; pushed on each arrival
ACTIVE_TEAMS = f"{PREFIX}teams:active"  # set of teams whose queue is not empty
DISPATCHED = f"{PREFIX}dispatched"  # zset job id -> deadline for a worker to claim it
LEASES = f"{PREFIX}leases"  # zset job id -> deadline of the running job's lease
USAGE_STREAM = f"{PREFIX}usage"  # stream of usage records, drained by the usage sink
API_KEYS = f"{PREFIX}apikeys"  # hash sha256(key) -> JSON of the key's principal


def job(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def team_queue(team: str) -> str:
    return f"{PREFIX}queue:{team}"


def idempotency(team: str, key: str) -> str:
    return f"{PREFIX}idem:{team}:{key}"


# The answer cache (broker.cache, workers.cache). Entries are the source of truth: a vector
# in Chroma whose entry is gone (expired, evicted, purged) is never served.
CACHE_PREFIX = f"{PREFIX}cache:"
CACHE_PENDING = f"{CACHE_PREFIX}pending"  # zset job id -> created ms, jobs waiting for a lookup
CACHE_ENTRY_PREFIX = f"{CACHE_PREFIX}entry:"  # string: one cached answer as JSON, with TTL
CACHE_SCOPE_PREFIX = f"{CACHE_PREFIX}scope:"  # zset entry id -> last use ms, per scope (eviction)
CACHE_OWNER_PREFIX = f"{CACHE_PREFIX}owner:"  # set of scope ids per owner (a team or the org)
CACHE_TEMPLATE_PREFIX = f"{CACHE_PREFIX}template:"  # set of entry ids per template id and version


def cache_entry(entry_id: str) -> str:
    return f"{CACHE_ENTRY_PREFIX}{entry_id}"


def cache_scope(scope_id: str) -> str:
    return f"{CACHE_SCOPE_PREFIX}{scope_id}"


def cache_owner(owner: str) -> str:
    return f"{CACHE_OWNER_PREFIX}{owner}"


def cache_template(template_id: str, version: int | str) -> str:
    return f"{CACHE_TEMPLATE_PREFIX}{template_id}:{version}"
