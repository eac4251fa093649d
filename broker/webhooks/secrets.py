"""Per-team webhook signing secrets that are never stored.

Standard Webhooks signs with HMAC-SHA256, so the sender needs the raw secret; storing it
(even encrypted) would put it in Redis dumps and backups. Instead a team's secret is
*derived*: ``whsec_`` + base64(HMAC-SHA256(master key, "llm-broker webhook:<team>:<generation>")).
Redis keeps only the team's generation number (bumped by a rotation); the master key comes
from the environment variable ``webhooks.signing_key_env`` names, or, when that is unset,
from a 0600 file under ``$home/secrets`` created on first use (the API and the webhook worker
share ``$home``). Losing the master key rotates every team's secret; leaking it leaks them
all, so treat it as the provider keys are treated. Secrets are never logged.

After a rotation the previous secret keeps signing too (two signatures in one header, as the
spec allows) for ``webhooks.rotation_grace_s``, so receivers can switch without losing events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from broker import keys
from schemas.config import WebhooksConfig

KEY_FILE = "webhook-signing.key"


def derive_secret(master: bytes, team: str, generation: int) -> str:
    digest = hmac.new(master, f"llm-broker webhook:{team}:{generation}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def master_key(config: WebhooksConfig, home: Path, environ: dict[str, str] | None = None) -> bytes:
    """The key team secrets derive from: the environment's, else the file's (made once)."""
    env = os.environ if environ is None else environ
    value = env.get(config.signing_key_env)
    if value:
        return value.encode()
    path = home / "secrets" / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    for _ in range(50):  # the other process may still be writing it
        content = path.read_text().strip()
        if content:
            return content.encode()
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty")


@dataclass(frozen=True)
class Generation:
    current: int = 1
    previous: int | None = None
    rotated_at: float = 0.0


class TeamSecrets:
    def __init__(self, redis: Redis, config: WebhooksConfig, master: bytes) -> None:
        self._redis = redis
        self._config = config
        self._master = master

    async def generation(self, team: str) -> Generation:
        raw = await self._redis.hget(keys.WEBHOOK_SECRETS, team)
        return Generation(**json.loads(raw)) if raw else Generation()

    async def current(self, team: str) -> str:
        return derive_secret(self._master, team, (await self.generation(team)).current)

    async def signing(self, team: str, now: float | None = None) -> list[str]:
        """The secrets a delivery is signed with: the current one, and the previous one
        during the grace period after a rotation."""
        gen = await self.generation(team)
        out = [derive_secret(self._master, team, gen.current)]
        moment = time.time() if now is None else now
        if gen.previous is not None and moment - gen.rotated_at < self._config.rotation_grace_s:
            out.append(derive_secret(self._master, team, gen.previous))
        return out

    async def rotate(self, team: str) -> str:
        gen = await self.generation(team)
        new = Generation(current=gen.current + 1, previous=gen.current, rotated_at=time.time())
        await self._redis.hset(keys.WEBHOOK_SECRETS, team, json.dumps(new.__dict__))
        return derive_secret(self._master, team, new.current)
