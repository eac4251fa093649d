"""Outgoing webhooks: Standard Webhooks signing, shared by budget alerts and job callbacks."""
