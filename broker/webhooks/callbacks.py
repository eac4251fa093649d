"""The SSRF guard for callback URLs: refuse URLs that resolve to private, loopback, link-local
or otherwise internal addresses unless the config allow-lists them.

Checked at submit (a 422 naming ``callback_url``) and again by the delivering worker on every
connection (``workers/webhooks/resolver.py``), because DNS may answer differently later.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from broker.errors import InvalidRequest
from schemas.config import WebhooksConfig

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed_networks(config: WebhooksConfig) -> list[IPNetwork]:
    return [ipaddress.ip_network(n, strict=False) for n in config.allow_networks]


def is_internal(address: IPAddress) -> bool:
    """Anything but a public unicast address: private, loopback, link-local, multicast,
    reserved, unspecified, shared (CGNAT) and IPv4-mapped forms of those."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_internal(address.ipv4_mapped)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def address_allowed(address: IPAddress, allow: list[IPNetwork]) -> bool:
    return not is_internal(address) or any(address in network for network in allow)


def split_target(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; raises ``ValueError`` naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [literal]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def callback_problem(url: str, config: WebhooksConfig) -> str | None:
    """Why a callback URL is refused, or None when it may be called."""
    try:
        host, port = split_target(url)
    except ValueError as exc:
        return str(exc)
    if host.lower() in (h.lower() for h in config.allow_hosts):
        return None
    try:
        addresses = await resolve(host, port)
    except OSError:
        return f"host {host!r} does not resolve"
    if not addresses:
        return f"host {host!r} does not resolve"
    allow = allowed_networks(config)
    for address in addresses:
        if not address_allowed(address, allow):
            return f"{host} resolves to {address}, an internal address (allow-list it in webhooks.allow_networks)"
    return None


async def check_callback_url(url: str | None, config: WebhooksConfig, param: str = "callback_url") -> None:
    """Raise a 422 naming ``param`` when the URL may not be called."""
    if url is None:
        return
    problem = await callback_problem(url, config)
    if problem is not None:
        raise InvalidRequest(f"{param}: {problem}", param=param)


class CallbackChecker:
    """``callback_problem`` remembered per URL host, for the many lines of one batch."""

    def __init__(self, config: WebhooksConfig) -> None:
        self._config = config
        self._seen: dict[str, str | None] = {}

    async def problem(self, url: str) -> str | None:
        try:
            host, port = split_target(url)
        except ValueError as exc:
            return str(exc)
        key = f"{host}:{port}"
        if key not in self._seen:
            self._seen[key] = await callback_problem(url, self._config)
        return self._seen[key]
