"""Load the ``.lua`` files that sit beside this module and register them on a client.

Redis scripts cannot import one another, so shared Lua (the token-bucket arithmetic in
``buckets.lua``) is prepended to the scripts that need it when they are loaded.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any


@cache
def lua_source(package: str, name: str, prelude: str | tuple[str, ...] | None = None) -> str:
    body = resources.files(package).joinpath(f"{name}.lua").read_text()
    if prelude is None:
        return body
    names = (prelude,) if isinstance(prelude, str) else prelude
    return "\n".join([*(resources.files(package).joinpath(f"{n}.lua").read_text() for n in names), body])


def register(client: Any, package: str, name: str, prelude: str | tuple[str, ...] | None = None) -> Any:
    """An ``AsyncScript``/``Script`` that uses EVALSHA and reloads itself after a Redis restart."""
    return client.register_script(lua_source(package, name, prelude))
