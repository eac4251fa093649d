"""Hand admitted jobs to Celery, several per message, one queue per provider.

The scheduler only sends: it names the task and queue and never imports the workers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from celery import Celery

from schemas.messages import RUN_JOBS_TASK, DispatchItem, provider_queue


def make_sender(broker_url: str) -> Celery:
    app = Celery("llm-broker-scheduler", broker=broker_url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True)
    return app


def batches(admitted: Iterable[tuple[str, DispatchItem]], max_batch: int) -> list[tuple[str, list[DispatchItem]]]:
    """Group (provider, item) pairs into per-provider messages of at most ``max_batch`` jobs."""
    by_provider: dict[str, list[DispatchItem]] = defaultdict(list)
    for provider, item in admitted:
        by_provider[provider].append(item)
    out = []
    for provider, items in by_provider.items():
        for start in range(0, len(items), max_batch):
            out.append((provider, items[start : start + max_batch]))
    return out


def send(app: Celery, provider: str, items: list[DispatchItem]) -> None:
    app.send_task(RUN_JOBS_TASK, args=[[list(item) for item in items]], queue=provider_queue(provider))
