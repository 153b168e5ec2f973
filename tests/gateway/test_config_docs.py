"""The reference generator: tables from docstrings, the prose around them kept, sections found."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from gateway.config_docs import COMMAND, REFERENCE, ConfigDocsError, render_reference

ROOT = Path(__file__).resolve().parents[2]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Limits(_Section):
    """Limits of one level."""

    per_day: Annotated[int, Field(ge=0, le=1000)] | None = None
    """Tokens per day | weighted."""


class Backend(_Section):
    """One server."""

    url: str
    """Where it listens."""
    weight: Annotated[float, Field(gt=0)] = 1.0
    """Relative capacity."""


class Model(_Section):
    """A model and its servers."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    """What clients send."""
    backends: Annotated[list[Backend], Field(min_length=1)]
    """Its servers."""


class Settings(_Section):
    """A whole file."""

    models: list[Model]
    """The models."""
    transport: Literal["aiohttp", "httpx"] = "aiohttp"
    """The client."""
    path: Path = Path("data/x.db")
    """A file."""
    departments: dict[str, Limits] = {}
    """Per department."""
    services: dict[str, Limits] = {}
    """Per service."""
    enabled: bool = False
    """On or off."""


def _block(name: str, rows: str) -> str:
    return (
        f"<!-- generated: {name} ({COMMAND} writes this table from the field docstrings: edit those) -->\n"
        f"| key | type | default | meaning |\n|---|---|---|---|\n{rows}<!-- end of generated table -->"
    )


def test_a_new_document_gets_every_section_in_order_with_types_and_defaults() -> None:
    rendered = render_reference("# Reference\n", Settings)
    headings = [line for line in rendered.splitlines() if line.startswith("#")]
    assert headings == [
        "# Reference",
        "## Top-level keys",
        "## `models[]`",
        "### `models[].backends[]`",
        "### `{departments,services}.<name>`",
    ]
    assert "| `models` | list of `models[]` | required | The models. |" in rendered
    assert "| `transport` | `aiohttp` or `httpx` | `aiohttp` | The client. |" in rendered
    assert "| `path` | path | `data/x.db` | A file. |" in rendered
    assert (
        "| `departments` | mapping of names to `{departments,services}.<name>` | `{}` | Per department. |"
        in (rendered)
    )
    assert "| `enabled` | boolean | `false` | On or off. |" in rendered
    assert "| `name` | string (1 to 64 characters) | required | What clients send. |" in rendered
    assert "| `backends` | list of `models[].backends[]` (not empty) | required | Its servers. |" in rendered
    assert "| `weight` | number (> 0) | `1` | Relative capacity. |" in rendered
    assert "| `per_day` | integer (0 to 1000) | none | Tokens per day \\| weighted. |" in rendered
    assert "\n\nOne server.\n\n" in rendered, "a new section opens with its model's docstring"
    assert render_reference(rendered, Settings) == rendered, "rendering what it rendered changes nothing"


def test_prose_is_kept_and_tables_follow_the_docstrings() -> None:
    document = render_reference("# Reference\n\nHand-written introduction.\n", Settings)
    moved = document.replace("## `models[]`", "## Models\n\nA list, one entry per model.")
    stale = moved.replace("| The models. |", "| Something the docstring no longer says. |")
    rendered = render_reference(stale, Settings)
    assert rendered == moved
    assert "Hand-written introduction." in rendered and "A list, one entry per model." in rendered


def test_a_field_without_a_docstring_is_refused_by_name() -> None:
    class Undocumented(_Section):
        documented: int = 1
        """Has one."""
        bare: int = 2

    with pytest.raises(ConfigDocsError, match=r"Undocumented\.bare has no docstring"):
        render_reference("", Undocumented)


def test_a_table_for_a_section_that_is_gone_is_refused() -> None:
    document = "# Reference\n\n" + _block("retired", "| `x` | integer | `1` | Gone. |\n") + "\n"
    with pytest.raises(
        ConfigDocsError, match="`retired` describes a section the configuration no longer has"
    ):
        render_reference(document, Backend)
    twice = "\n\n".join([_block("(top level)", ""), _block("(top level)", "")])
    with pytest.raises(ConfigDocsError, match="two generated tables"):
        render_reference(twice, Backend)


def test_the_command_checks_then_rewrites_a_file(tmp_path: Path) -> None:
    copy = tmp_path / "configuration.md"
    shutil.copyfile(REFERENCE, copy)

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway.config_docs", *arguments, str(copy)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=ROOT,
        )

    assert run("--check").returncode == 0
    copy.write_text(
        copy.read_text(encoding="utf-8").replace("| TCP port. |", "| TCP prot. |"), encoding="utf-8"
    )
    outdated = run("--check")
    assert outdated.returncode == 1 and f"out of date: run {COMMAND}" in outdated.stderr
    assert "TCP prot." in copy.read_text(encoding="utf-8"), "--check changes nothing"
    assert run().returncode == 0
    assert copy.read_text(encoding="utf-8") == REFERENCE.read_text(encoding="utf-8")
