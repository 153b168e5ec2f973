"""One field of a configuration model in words: its type and bounds, its default, its meaning.

The meaning is the field's docstring (pydantic keeps it as the description when the model sets
`use_attribute_docstrings=True`); a field that holds a section and has none takes its model's
docstring. A field with neither is an error: the reference must not have a blank line for it.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gateway.config_docs._errors import ConfigDocsError
from gateway.config_docs._walk import nested_model

__all__ = ["default_text", "meaning_text", "type_text"]

_NAMES: dict[type, tuple[str, str]] = {
    bool: ("boolean", "booleans"),
    int: ("integer", "integers"),
    float: ("number", "numbers"),
    Decimal: ("decimal number", "decimal numbers"),
    str: ("string", "strings"),
}


def meaning_text(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    """The field's docstring on one line, or its section's docstring for a section without one."""
    text = field.description
    if not text:
        nested = _section_model(field.annotation)
        text = _first_paragraph(nested.__doc__) if nested is not None else ""
    if not text:
        raise ConfigDocsError(
            f"{model.__module__}.{model.__qualname__}.{name} has no docstring: write one on the line "
            'below the field ("""What it does, and when to change it."""); its model_config needs '
            "use_attribute_docstrings=True"
        )
    return " ".join(text.split())


def type_text(field: FieldInfo, section_name: Callable[[type[BaseModel]], str]) -> str:
    """`integer (1 to 65535)`, `` `aiohttp` or `httpx` ``, `list of `models[].backends[]``..."""
    return _describe(field.annotation, list(field.metadata), section_name, plural=False)


def default_text(field: FieldInfo) -> str:
    """The default as it would be written in the file, `required`, or `none`."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return "each key's own"
    return f"`{_yaml(value)}`"


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, enum.Enum):
        return _yaml(value.value)
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, PurePath | Decimal | int):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {_yaml(item)}" for key, item in value.items()) + "}"
    return repr(value)


def _section_model(annotation: Any) -> type[BaseModel] | None:
    nested = nested_model(annotation)
    return None if nested is None else nested[1]


def _first_paragraph(text: str | None) -> str:
    return (text or "").strip().split("\n\n")[0]


def _describe(
    annotation: Any, constraints: list[Any], section_name: Callable[[type[BaseModel]], str], *, plural: bool
) -> str:
    origin = get_origin(annotation)
    arguments = get_args(annotation)
    if origin is Annotated:
        inner = [
            meta
            for extra in arguments[1:]
            for meta in (extra.metadata if isinstance(extra, FieldInfo) else [extra])
        ]
        return _describe(arguments[0], [*constraints, *inner], section_name, plural=plural)
    if origin is Union or origin is types.UnionType:
        choices = [argument for argument in arguments if argument is not type(None)]
        described = [_describe(choice, constraints, section_name, plural=plural) for choice in choices]
        return " or ".join(described)
    if origin is Literal:
        return _one_of(arguments)
    if origin in (list, tuple, set, frozenset):
        item = _describe(arguments[0], [], section_name, plural=True) if arguments else "values"
        return _bounded(f"list of {item}", constraints, unit="")
    if origin is dict:
        value = _describe(arguments[1], [], section_name, plural=True)
        return f"mapping of names to {value}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"`{section_name(annotation)}`" if plural else f"section `{section_name(annotation)}`"
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "paths" if plural else "path"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _one_of(tuple(member.value for member in annotation))
    names = _NAMES.get(annotation)
    if names is None:
        return getattr(annotation, "__name__", str(annotation))
    unit = " characters" if annotation is str else ""
    return _bounded(names[plural], constraints, unit=unit)


def _one_of(values: tuple[Any, ...]) -> str:
    quoted = [f"`{_yaml(value)}`" for value in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _bounded(text: str, constraints: list[Any], *, unit: str) -> str:
    """`integer (1 to 65535)`, `number (> 0)`, `string (1 to 256 characters)`, `list of X (not empty)`."""
    # pydantic's metadata: annotated_types' Ge, Gt, Le, Lt, MinLen and MaxLen, each with its one value.
    bounds: dict[str, Any] = {}
    for constraint in constraints:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            value = getattr(constraint, name, None)
            if value is not None:
                bounds[name] = value
    parts: list[str] = []
    if "ge" in bounds and "le" in bounds:
        parts.append(f"{_yaml(bounds['ge'])} to {_yaml(bounds['le'])}")
    else:
        parts += [f"{sign} {_yaml(bounds[name])}" for name, sign in _SIGNS if name in bounds]
    lengths = bounds.get("min_length"), bounds.get("max_length")
    if lengths[0] is not None and lengths[1] is not None:
        parts.append(f"{lengths[0]} to {lengths[1]}{unit}")
    elif lengths[0] == 1:
        parts.append("not empty")
    elif lengths[0] is not None:
        parts.append(f"at least {lengths[0]}{unit}")
    elif lengths[1] is not None:
        parts.append(f"at most {lengths[1]}{unit}")
    return f"{text} ({', '.join(parts)})" if parts else text


_SIGNS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
