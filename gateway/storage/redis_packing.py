"""Redis commands packed by hiredis, in C, on redis-py's asyncio connections.

redis-py's synchronous connections pack commands with hiredis when it is installed; its asyncio ones
always pack in Python, about a microsecond an argument. A quota reservation has some forty arguments
and its settlement thirty: at one request at a time that was a tenth of the gateway's CPU. hiredis
writes the same bytes (a test compares them), so the packing is swapped on the connection classes
of the pools the gateway builds.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.exceptions import DataError

__all__ = ["hiredis_packing"]


def _pack_command(self: Any, *args: Any) -> list[bytes]:
    # As redis-py does: a command name given with its subcommand ("SCRIPT LOAD") is split in two.
    first = args[0]
    if isinstance(first, str):
        args = (*first.encode().split(), *args[1:])
    elif b" " in first:
        args = (*first.split(), *args[1:])
    try:
        return [hiredis.pack_command(args)]
    except TypeError as exc:  # None, a bool, a list: what redis-py's encoder refuses too
        raise DataError(f"Invalid input of a Redis command: {exc}") from None


_SUBCLASSES: dict[type[Any], type[Any]] = {}


def hiredis_packing(connection_class: type[Any]) -> type[Any]:
    """`connection_class` with hiredis packing (one subclass per class, made once)."""
    if getattr(connection_class, "pack_command", None) is _pack_command:
        return connection_class
    subclass = _SUBCLASSES.get(connection_class)
    if subclass is None:
        name = f"Hiredis{connection_class.__name__}"
        subclass = _SUBCLASSES[connection_class] = type(
            name, (connection_class,), {"pack_command": _pack_command}
        )
    return subclass
