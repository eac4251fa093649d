"""Load ``.lua`` files from their packages and register them on a client.

Redis scripts cannot import one another, so shared Lua is prepended when a script is
loaded: the clock (``clock.lua``: ``now_ms``) to every script, and the preludes a script
names (the token-bucket arithmetic in ``buckets.lua``, the final hooks) from its package.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

CLOCK = resources.files("broker.jobstore").joinpath("clock.lua").read_text()


@cache
def lua_source(package: str, name: str, prelude: str | tuple[str, ...] | None = None) -> str:
    body = resources.files(package).joinpath(f"{name}.lua").read_text()
    names = () if prelude is None else (prelude,) if isinstance(prelude, str) else prelude
    preludes = (resources.files(package).joinpath(f"{n}.lua").read_text() for n in names)
    return "\n".join([CLOCK, *preludes, body])


def register(client: Any, package: str, name: str, prelude: str | tuple[str, ...] | None = None) -> Any:
    """An ``AsyncScript``/``Script`` that uses EVALSHA and reloads itself after a Redis restart."""
    return client.register_script(lua_source(package, name, prelude))
