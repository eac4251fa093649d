"""The cost dashboard: data gathered from Redis and the ledger, plotly charts, one page."""
