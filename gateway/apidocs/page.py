"""The reference page (`GET /docs`): the OpenAPI document as HTML, rendered once on the server.

No script at all, and one stylesheet of the gateway's own: the page works where nothing but the
gateway can be reached, and its Content-Security-Policy can forbid everything else. It reads only the
parts of the document the gateway writes (gateway/apidocs/document.py), not any OpenAPI document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

__all__ = ["STYLESHEET", "render_page"]

Json = dict[str, Any]

_HERE = Path(__file__).resolve().parent
STYLESHEET = _HERE / "static" / "reference.css"
_CODE = re.compile(r"`([^`]+)`")


def _prose(text: str) -> Markup:
    """Escaped text whose `quoted` words become <code>, as the docstrings and descriptions write them."""
    # Safe: the text is escaped first, and only the <code> tags added after that are markup.
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))  # noqa: S704


def _type(schema: Json) -> str:
    """A schema's type in words: `string`, `string or array`, `array of integer`, `Error`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    options = schema.get("oneOf") or schema.get("anyOf")
    if options:
        return " or ".join(_type(option) for option in options)
    kind = schema.get("type", "any")
    words = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if "items" in schema:
        words += f" of {_type(schema['items'])}"
    return words


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    kind: str
    required: bool
    description: Markup


@dataclass(frozen=True, slots=True)
class Answer:
    status: str
    description: Markup
    media_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    anchor: str
    method: str
    path: str
    summary: Markup
    description: Markup
    auth: tuple[str, ...]
    parameters: list[Row]
    fields: list[Row]
    alternatives: list[str]
    answers: list[Answer]


@dataclass(slots=True)
class Group:
    name: str
    description: Markup
    entries: list[Entry] = field(default_factory=list)


def _auth(operation: Json, schemes: Json) -> tuple[str, ...]:
    ways = []
    for requirement in operation.get("security", ()):
        for name in requirement:
            scheme = schemes[name]
            ways.append(
                "Authorization: Bearer <key>" if scheme["type"] == "http" else f"{scheme['name']}: <key>"
            )
    return tuple(ways)


def _fields(operation: Json) -> tuple[list[Row], list[str]]:
    body = operation.get("requestBody")
    if body is None:
        return [], []
    # One media type per body: JSON, or a form for an upload.
    (content,) = body["content"].values()
    schema = content["schema"]
    required = set(schema.get("required", ()))
    rows = [
        Row(name, _type(spec), name in required, _prose(spec.get("description", "")))
        for name, spec in schema.get("properties", {}).items()
    ]
    alternatives = [" and ".join(option["required"]) for option in schema.get("anyOf", ())]
    return rows, alternatives


def _entry(path: str, method: str, operation: Json, schemes: Json) -> Entry:
    parameters = [
        Row(
            f"{p['name']} ({p['in']})",
            _type(p["schema"]),
            bool(p.get("required")),
            _prose(p.get("description", "")),
        )
        for p in operation.get("parameters", ())
    ]
    fields, alternatives = _fields(operation)
    answers = [
        Answer(status, _prose(answer["description"]), tuple(answer.get("content", {})))
        for status, answer in operation["responses"].items()
    ]
    return Entry(
        anchor=operation["operationId"],
        method=method.upper(),
        path=path,
        summary=_prose(operation.get("summary", "")),
        description=_prose(operation.get("description", "")),
        auth=_auth(operation, schemes),
        parameters=parameters,
        fields=fields,
        alternatives=alternatives,
        answers=answers,
    )


def _groups(document: Json) -> list[Group]:
    groups = {tag["name"]: Group(tag["name"], _prose(tag.get("description", ""))) for tag in document["tags"]}
    schemes = document["components"]["securitySchemes"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            groups[operation["tags"][0]].entries.append(_entry(path, method, operation, schemes))
    return [group for group in groups.values() if group.entries]


def render_page(document: Json, *, stylesheet: str, document_path: str) -> bytes:
    """The page's HTML; `stylesheet` and `document_path` are the gateway's paths of the two."""
    environment = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = environment.get_template("reference.html.j2").render(
        info=document["info"],
        description=_prose(document["info"].get("description", "")),
        groups=_groups(document),
        stylesheet=stylesheet,
        document_path=document_path,
    )
    return html.encode()
