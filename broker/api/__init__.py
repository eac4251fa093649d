"""The HTTP API: thin FastAPI routes over the broker's services."""
