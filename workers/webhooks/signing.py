"""Standard Webhooks (https://www.standardwebhooks.com) signing: ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body``), computed by the ``standardwebhooks`` library so receivers can
verify with any compliant implementation.

A redelivery keeps its ``webhook-id`` (receivers deduplicate on it) and gets a fresh
timestamp and signature. Secrets are ``whsec_`` + base64 of at least 24 random bytes,
never logged: the budget alerts' secret comes from the environment, each team's job-webhook
secret is derived (``broker.webhooks.secrets``). Several secrets (during a rotation) give
several space-separated signatures.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "new_secret", "sign_headers", "verify"]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign_headers(
    secret: str | Sequence[str], message_id: str, body: str, now: datetime | None = None
) -> dict[str, str]:
    """The headers that make ``body`` a signed Standard Webhooks message."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    keys = [secret] if isinstance(secret, str) else list(secret)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(Webhook(key).sign(message_id, moment, body) for key in keys),
        "content-type": "application/json",
    }


def verify(secret: str, body: bytes | str, headers: dict[str, str]) -> Any:
    """The parsed body if the signature holds and the timestamp is within 5 minutes;
    raises ``WebhookVerificationError`` otherwise (what a receiver runs)."""
    return Webhook(secret).verify(body, headers)
