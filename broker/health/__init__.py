"""Provider-model health: a circuit breaker and a latency EWMA per model, kept in Redis.

``breaker`` is the pure state machine (the twin of ``record.lua``), ``store`` reads and
writes it, and the router (``broker.router``) turns a snapshot into a candidate order.
"""
