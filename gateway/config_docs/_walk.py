"""The configuration's sections: every model reachable from the root, and where in the file it sits.

A model used in several places (the limits of a department, a service and a key) is one section with
several paths, named by them all at once: `quotas.{departments,services,keys}.<name>`.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = ["ROOT", "Section", "nested_model", "sections"]

ROOT = "(top level)"
"""The name of the root model's section: the file's top-level keys."""

_SEQUENCES = (list, tuple, set, frozenset)


@dataclass(frozen=True)
class Section:
    """One model of the configuration and the paths where the file holds it."""

    model: type[BaseModel]
    paths: tuple[str, ...]

    @property
    def name(self) -> str:
        """The paths as one: `models[].backends[]`, `quotas.{departments,services,keys}.<name>`."""
        if self.paths == ("",):
            return ROOT
        return _merged(self.paths)

    @property
    def top_level(self) -> bool:
        return all("." not in path for path in self.paths)


def nested_model(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """The model a field holds, directly or in a list or mapping, and the suffix that its path takes
    for it (`""`, `"[]"` for a list item, `".<name>"` for a mapping's value); None for plain values."""
    origin = get_origin(annotation)
    arguments = get_args(annotation)
    if origin is Annotated:
        return nested_model(arguments[0])
    if origin is Union or origin is types.UnionType:
        found = [nested_model(argument) for argument in arguments if argument is not type(None)]
        return found[0] if len(found) == 1 else None
    if origin in _SEQUENCES and arguments:
        inner = nested_model(arguments[0])
        return None if inner is None else ("[]" + inner[0], inner[1])
    if origin is dict and len(arguments) == 2:
        inner = nested_model(arguments[1])
        return None if inner is None else (".<name>" + inner[0], inner[1])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "", annotation
    return None


def sections(root: type[BaseModel]) -> list[Section]:
    """The root first, then every model in the order its first field appears, depth first."""
    paths: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], path: str, ancestors: tuple[type[BaseModel], ...]) -> None:
        paths.setdefault(model, []).append(path)
        for name, field in model.model_fields.items():
            nested = nested_model(field.annotation)
            if nested is not None and nested[1] not in ancestors:
                suffix, child = nested
                visit(child, f"{path}.{name}{suffix}" if path else f"{name}{suffix}", (*ancestors, model))

    visit(root, "", ())
    return [Section(model, tuple(found)) for model, found in paths.items()]


def _merged(paths: tuple[str, ...]) -> str:
    """Paths that differ in one part only, as one with the choices in braces; others listed."""
    if len(paths) == 1:
        return paths[0]
    parts = [path.split(".") for path in paths]
    if len({len(split) for split in parts}) == 1:
        differing = [index for index in range(len(parts[0])) if len({split[index] for split in parts}) > 1]
        if len(differing) == 1:
            index = differing[0]
            choices = ",".join(dict.fromkeys(split[index] for split in parts))
            return ".".join([*parts[0][:index], f"{{{choices}}}", *parts[0][index + 1 :]])
    return ", ".join(paths)
