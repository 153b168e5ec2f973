"""Reading the configuration file: the one loader behind every command that reads it.

    path = config_path(args.config)             # --config, else $GATEWAY_CONFIG, else ConfigError
    config = read_config(path, GatewayConfig)   # the whole file (`gateway serve`, `config check`...)
    usage = read_config(path, UsageSections)    # only the sections one command needs

Every problem becomes a `ConfigError` whose message is meant for a person and reads the same
whichever command met it: the file, then for each wrong key its place in the file and what is wrong
with it (`gateway.yaml: models[0].backends[0].weigth: unknown key (check its spelling)`), or where
the YAML itself breaks. A command prints the message as it is and exits with its own status.

`Sections` is the base of a command's partial view: a command that needs a few sections (`policy
check` needs `policy`) validates those exactly as `gateway serve` would, and leaves the others alone,
so that it works on a host that has only the part of the file it needs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["CONFIG_ENV", "ConfigError", "Sections", "config_path", "find_config", "read_config"]

CONFIG_ENV = "GATEWAY_CONFIG"
"""The environment variable naming the configuration file when a command is given no `--config`."""

Schema = TypeVar("Schema", bound=BaseModel)


class ConfigError(Exception):
    """A configuration file that cannot be used; the message is meant for a person."""


class Sections(BaseModel):
    """Some sections of the file, each validated as the whole file validates it; other keys ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def find_config(given: str | os.PathLike[str] | None) -> Path | None:
    """The file `--config` names, else the one `$GATEWAY_CONFIG` names (absolute), else None."""
    named = given or os.environ.get(CONFIG_ENV)
    return Path(named).resolve() if named else None


def config_path(given: str | os.PathLike[str] | None) -> Path:
    """`find_config`, for the commands that cannot do without a file."""
    path = find_config(given)
    if path is None:
        raise ConfigError(f"no configuration file: pass --config FILE or set {CONFIG_ENV}")
    return path


def read_config(path: str | os.PathLike[str], schema: type[Schema]) -> Schema:
    """Read `path` and validate it as `schema`, or raise ConfigError saying what is wrong where."""
    file = Path(path)
    data = _mapping(file, _text(file))
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(file, exc)) from None


def _text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read: {exc}") from None


def _mapping(file: Path, text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{file}: {where}not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping with at least a `models` key")
    return data


def _location(loc: tuple[int | str, ...]) -> str:
    """pydantic's location as the file writes it: `models[0].backends[1].url`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problems(file: Path, error: ValidationError) -> str:
    lines = [f"{file}: {error.error_count()} problem(s)"]
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling)"
        lines.append(f"  {file}: {_location(item['loc'])}: {message}")
    return "\n".join(lines)
