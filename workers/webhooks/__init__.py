"""Webhook delivery: Standard Webhooks signing, the retry schedule, the SSRF-guarded
resolver and the delivery worker (``llm-broker webhook-worker``)."""
