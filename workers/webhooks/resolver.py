"""An aiohttp resolver that refuses internal addresses at connection time.

The submit-time check (``broker.webhooks.callbacks``) can be undone by DNS answering
differently later (DNS rebinding); resolving through this guard means the address actually
connected to is the one checked, on every delivery.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from broker.webhooks.callbacks import address_allowed, allowed_networks
from schemas.config import WebhooksConfig


class RefusedAddress(OSError):
    """The callback host resolved to an address the config does not allow."""


class GuardedResolver(AbstractResolver):
    def __init__(self, config: WebhooksConfig) -> None:
        self._inner = DefaultResolver()
        self._allow = allowed_networks(config)
        self._hosts = {h.lower() for h in config.allow_hosts}

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower() in self._hosts:
            return results
        for result in results:
            address = ipaddress.ip_address(result["host"].split("%")[0])
            if not address_allowed(address, self._allow):
                raise RefusedAddress(f"{host} resolves to {address}, an internal address")
        return results

    async def close(self) -> None:
        await self._inner.close()
