"""Outgoing webhooks: Standard Webhooks signing, shared by budget alerts and job callbacks."""

"""Webhook delivery: Standard Webhooks signing, the retry schedule, the SSRF-guarded
resolver and the delivery worker (``llm-broker webhook-worker``)."""
