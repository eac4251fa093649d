"""Every Redis key the broker and its workers use, in one place.

All keys share the ``lb:`` prefix so a shared Redis can be inspected or flushed safely.
"""

from __future__ import annotations

PREFIX = "lb:"

JOBS_DONE_CHANNEL = f"{PREFIX}jobs:done"  # pub/sub: a job id each time a job reaches a final state
SCHEDULER_WAKE = f"{PREFIX}scheduler:wake"  # pub/sub: published on each arrival, requeue and refund
ACTIVE_TEAMS = f"{PREFIX}teams:active"  # set of teams whose queue is not empty
DISPATCHED = f"{PREFIX}dispatched"  # zset job id -> deadline for a worker to claim it
LEASES = f"{PREFIX}leases"  # zset job id -> deadline of the running job's lease
USAGE_STREAM = f"{PREFIX}usage"  # stream of usage records, drained by the usage sink
API_KEYS = f"{PREFIX}apikeys"  # hash sha256(key) -> JSON of the key's principal
FEEDBACK_STREAM = f"{PREFIX}feedback"  # stream of job outcome scores, drained by the sink into Parquet


def job(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def team_queue(team: str) -> str:
    return f"{PREFIX}queue:{team}"


def idempotency(team: str, key: str) -> str:
    return f"{PREFIX}idem:{team}:{key}"


def bucket(scope: str, axis: str) -> str:
    """A token bucket: ``scope`` is ``team:<name>``, ``key:<key id>`` or ``model:<name>``."""
    return f"{PREFIX}bucket:{scope}:{axis}"


def health(model: str) -> str:
    """Hash of a provider model's circuit breaker and latency EWMA (``broker/health``)."""
    return f"{PREFIX}health:{model}"


def dead_letters(team: str) -> str:
    """Zset of a team's failed jobs: job id -> when it failed (ms). Written by the script that fails it."""
    return f"{PREFIX}deadletters:{team}"


def prompt_meta(owner: str, name: str) -> str:
    """Hash of a template's mutable facts: latest version, retired, split, layout, sharing."""
    return f"{PREFIX}prompt:{owner}:{name}"


def prompt_versions(owner: str, name: str) -> str:
    """Hash version number -> the immutable version's JSON (written once by publish.lua)."""
    return f"{PREFIX}prompt:{owner}:{name}:versions"


def team_prompts(team: str) -> str:
    """Set of template names a team owns."""
    return f"{PREFIX}prompts:{team}"


def shared_prompts(team: str) -> str:
    """Set of ``owner/name`` templates other teams share with this team."""
    return f"{PREFIX}prompts:shared:{team}"
