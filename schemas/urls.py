"""The one rule every URL a caller or operator gives the broker to call back must meet."""

from __future__ import annotations


def check_http_url(field: str, value: str | None) -> str | None:
    """Only http(s) URLs: a scheme check at validation, so the 4xx names ``field``. Where the
    address may point (no internal networks unless allow-listed) is checked at submit by
    ``broker.webhooks.callbacks``, which must resolve the host."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{field} must be an http:// or https:// URL")
    return value
