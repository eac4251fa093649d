"""Which team to serve next. Pure: takes the active teams and the rotation, returns an order."""

from __future__ import annotations


def round_robin(teams: list[str], turn: int) -> list[str]:
    """Every active team first in turn, so no team waits behind another's backlog."""
    if not teams:
        return []
    start = turn % len(teams)
    return teams[start:] + teams[:start]
