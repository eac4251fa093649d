"""Load the ``.lua`` files that sit beside this module and register them on a client."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any


@cache
def lua_source(package: str, name: str) -> str:
    return resources.files(package).joinpath(f"{name}.lua").read_text()


def register(client: Any, package: str, name: str) -> Any:
    """An ``AsyncScript``/``Script`` that uses EVALSHA and reloads itself after a Redis restart."""
    return client.register_script(lua_source(package, name))
