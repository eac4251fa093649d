"""The usage ledger: Parquet partitioned by month and team, read with DuckDB.

``layout`` names files and partitions, ``storage`` writes and lists them (local folder or
object storage), ``views`` builds the deduplicated ``usage`` view, ``reports`` asks it
questions. The usage sink (``workers.usage_sink``) is the only writer.
"""

from __future__ import annotations

from broker.ledger.reports import spend_report, totals
from broker.ledger.storage import LedgerStorage
from broker.settings import home_dir
from schemas.config import BrokerConfig

__all__ = ["LedgerStorage", "ledger_location", "open_ledger", "spend_report", "totals"]


def ledger_location(config: BrokerConfig) -> str:
    """The configured location, else ``$home/ledger``."""
    return config.ledger.location or str(home_dir() / "ledger")


def open_ledger(config: BrokerConfig) -> LedgerStorage:
    return LedgerStorage(ledger_location(config))
