"""The data plane: Celery workers that call providers, and the usage sink."""
