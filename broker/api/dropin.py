"""Process-wide pieces of the OpenAI drop-in endpoints (files, batches, chat completions,
events, webhooks): the file store and the batch keeper, started with the API process."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI, Request
from redis.asyncio import Redis

from broker.api.token_hub import TokenHub
from broker.batches.files import FileStore
from broker.batches.keeper import BatchKeeper
from broker.settings import home_dir
from schemas.config import BrokerConfig


@dataclass
class DropIn:
    files: FileStore
    keeper: BatchKeeper
    hub: TokenHub


async def start_dropin(app: FastAPI, config: BrokerConfig, redis: Redis) -> None:
    files = FileStore(redis, home_dir() / "files")
    keeper = BatchKeeper(redis, config, files)
    keeper.start()
    hub = TokenHub(redis)
    hub.start()
    app.state.dropin = DropIn(files=files, keeper=keeper, hub=hub)


async def stop_dropin(app: FastAPI) -> None:
    dropin: DropIn | None = getattr(app.state, "dropin", None)
    if dropin is not None:
        await dropin.keeper.stop()
        await dropin.hub.stop()


def dropin(request: Request) -> DropIn:
    return request.app.state.dropin  # type: ignore[no-any-return]
