"""The one Celery app of the data plane: a queue per provider, Redis as transport.

``acks_late`` keeps a message until the worker has claimed its jobs under a lease, so a
worker that dies before claiming gets the message redelivered; from the claim on, the
job's lease (renewed by the worker, reaped by the scheduler) covers the provider call.
"""

from __future__ import annotations

from celery import Celery

from broker.settings import current_config, redis_url
from schemas.config import BrokerConfig


def make_celery(config: BrokerConfig) -> Celery:
    app = Celery("llm-broker", broker=redis_url(config), include=["workers.tasks", "workers.cache.tasks"])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
    )
    return app


app = make_celery(current_config())
