"""Webhooks on the control plane: which callback URLs are acceptable (SSRF guard), team
signing secrets, and reading events, delivery history and dead letters for the API.
Delivery itself (queue, retries, signing) is the data plane's: ``workers/webhooks/``."""
