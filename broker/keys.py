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


# --- cost attribution and budgets -------------------------------------------------------
STATS = f"{PREFIX}stats"  # hash of all-time counters (jobs, tokens, cost...) bumped by finish.lua; /metrics
USAGE_DEAD = f"{PREFIX}usage:dead"  # stream of usage entries the sink could not parse (kept, never dropped)
ALERTS_STREAM = f"{PREFIX}alerts"  # stream of fired budget alerts, delivered by the monitor's alert sender
ALERTS_RECENT = f"{PREFIX}alerts:recent"  # capped list of recent alerts (JSON), the dashboard's banner
BUDGET_DRIFT = f"{PREFIX}budget:drift"  # hash team -> JSON of the last counters-vs-ledger reconciliation


def spend(month: str) -> str:
    """Hash of a month's spend in nano-dollars: one field per team and per team and feature."""
    return f"{PREFIX}spend:{month}"


def budget_overrides(month: str) -> str:
    """Hash of budgets an admin set for a month (same fields as ``spend``) -> US dollars."""
    return f"{PREFIX}budget:override:{month}"


def budget_state(month: str) -> str:
    """Hash of each budgeted team's (and feature's) current state (JSON), for admission and dashboard."""
    return f"{PREFIX}budget:state:{month}"


def budget_alert_fired(month: str, scope: str, threshold: str, budget: str) -> str:
    """Set once (NX) when a threshold of a budget fires in a month."""
    return f"{PREFIX}budget:fired:{month}:{scope}:{threshold}:{budget}"


def ledger_lock(name: str) -> str:
    """Lock held while one sink compacts a ledger partition."""
    return f"{PREFIX}ledger:lock:{name}"


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


# --- batches, files, streams and webhooks (issue 8) ---------------------------------------

BATCHES_DUE = f"{PREFIX}batches:due"  # zset batch id -> ms when the batch keeper should next look at it
BATCH_COUNTS = f"{PREFIX}batches:counts"  # hash "<batch id>:<counter>" -> count, moved as the batch's jobs end
WEBHOOKS_DUE = f"{PREFIX}webhooks:due"  # zset event id ("job:<id>" | "batch:<id>") -> ms of its next attempt
WEBHOOK_SECRETS = f"{PREFIX}webhooks:secrets"  # hash team -> JSON generation of its signing secret (no secret)


def file(file_id: str) -> str:
    """Hash of an uploaded or produced file's metadata (the content is on disk)."""
    return f"{PREFIX}file:{file_id}"


def team_files(team: str) -> str:
    """Zset file id -> created_at, per team."""
    return f"{PREFIX}files:{team}"


def batch(batch_id: str) -> str:
    """Hash of a batch: status, timestamps, input and output files, line counts."""
    return f"{PREFIX}batch:{batch_id}"


def batch_invalid(batch_id: str) -> str:
    """Hash line number -> JSON error, for the lines that never became jobs."""
    return f"{PREFIX}batch:{batch_id}:invalid"


def team_batches(team: str) -> str:
    """Zset batch id -> created_at, per team."""
    return f"{PREFIX}batches:{team}"


def batch_idempotency(team: str, digest: str) -> str:
    """The batch a team created from a file with this SHA-256 (lets the CLI resume)."""
    return f"{PREFIX}batches:idem:{team}:{digest}"


def job_tokens(job_id: str) -> str:
    """Stream of a streamed job's text deltas (XADD by the worker, XREAD by the API)."""
    return f"{PREFIX}job:{job_id}:tokens"


def webhook_event(event_id: str) -> str:
    """Hash of one webhook event: team, url, payload, attempts, state."""
    return f"{PREFIX}webhook:{event_id}"


def webhook_attempts(event_id: str) -> str:
    """List of JSON delivery attempts of one event (its delivery history)."""
    return f"{PREFIX}webhook:{event_id}:attempts"


def team_dead_letters(team: str) -> str:
    """Zset event id -> ms it was given up, per team."""
    return f"{PREFIX}webhooks:dead:{team}"
