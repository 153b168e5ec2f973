"""The catalogue in gateway/errors.py's docstring is the list of every error a client can see: each
`GatewayError` subclass of the package appears in it, with its status, type, code and parent."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

import gateway
import gateway.errors
from gateway.errors import GatewayError

# "    │   └── PiiBlocked   400  invalid_request_error  pii_detected   personal data"
_ROW = re.compile(
    r"^    (?P<tree>[│├└─ ]*)(?P<name>[A-Z]\w+)\s+(?P<status>\d{3}|[45]xx)\s+(?P<type>\w+)\s+(?P<code>\S+)"
)


@dataclass(frozen=True)
class Row:
    name: str
    parent: str | None
    status: str
    error_type: str
    code: str | None


def _catalogue() -> list[Row]:
    rows: list[Row] = []
    parents: list[str] = []  # the names of the open branches, by depth
    for line in (gateway.errors.__doc__ or "").splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        depth = len(match["tree"]) // 4
        del parents[depth:]
        code = match["code"]
        rows.append(
            Row(
                match["name"],
                parents[-1] if parents else None,
                match["status"],
                match["type"],
                None if code == "-" else code,
            )
        )
        parents.append(match["name"])
    return rows


def _package_errors() -> list[type[GatewayError]]:
    for module in pkgutil.walk_packages(gateway.__path__, "gateway."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[GatewayError]] = []
    pending: list[type[GatewayError]] = [GatewayError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("gateway."):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _status_matches(listed: str, status: int) -> bool:
    if listed.endswith("xx"):
        return str(status)[0] == listed[0]
    return int(listed) == status


def test_every_client_visible_error_is_in_the_catalogue() -> None:
    rows = _catalogue()
    classes = _package_errors()
    names = [cls.__name__ for cls in classes]
    assert len(names) == len(set(names)), "two error classes share a name"
    by_name = {cls.__name__: cls for cls in classes}
    assert sorted({row.name for row in rows}) == sorted(names)
    for name, cls in by_name.items():
        listed = [row for row in rows if row.name == name]
        parent = cls.__mro__[1].__name__ if cls is not GatewayError else None
        for row in listed:
            assert row.parent == parent, f"{name} is drawn under {row.parent}, derives from {parent}"
            assert _status_matches(row.status, cls.status_code), f"{name}: status {cls.status_code}"
        assert (cls.error_type, cls.code) in [(row.error_type, row.code) for row in listed], (
            f"{name}: type {cls.error_type!r} and code {cls.code!r} are not in the catalogue"
        )


def test_the_catalogue_is_read_whole() -> None:
    # A row the pattern missed would hide a class: every line of the table must be read as a row.
    lines = (gateway.errors.__doc__ or "").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("class "))
    table = lines[start + 1 : lines.index("", start)]
    assert len(table) == len(_catalogue()) > 20
