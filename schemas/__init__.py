"""Pydantic models shared by the control plane (broker), the data plane (workers) and the tests.

Nothing here does I/O: these are the shapes that cross process boundaries (HTTP bodies,
Redis records, Celery messages, Parquet rows) and the configuration.
"""
