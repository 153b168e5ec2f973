"""The reference document: hand-written prose around generated tables, one table per section.

Each table sits between two HTML comments (invisible once rendered) that name its section:

    <!-- generated: models[].timeouts (python -m gateway.config_docs ...) -->
    | key | type | default | meaning |
    ...
    <!-- end of generated table -->

Rendering rewrites what lies between them and keeps every other line, so the document is its own
template: prose, examples and headings are edited in the file itself. A section that has no table
yet (a model just added) is appended at the end, under a heading, with its model's docstring; move
it where it belongs, the table follows its markers. A table whose section no longer exists is an
error, so that its prose is not left behind to describe nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from gateway.config_docs._errors import ConfigDocsError
from gateway.config_docs._fields import default_text, meaning_text, type_text
from gateway.config_docs._walk import ROOT, Section, sections

__all__ = ["COMMAND", "REFERENCE", "render_reference"]

COMMAND = "python -m gateway.config_docs"
"""What rewrites the reference (`make config-docs` runs it)."""

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
"""The reference in this checkout."""

_BEGIN = "<!-- generated: {name} ({command} writes this table from the field docstrings: edit those) -->"
_END = "<!-- end of generated table -->"
_BLOCK = re.compile(
    r"^<!-- generated: (?P<name>.+?) \((?P<note>[^\n]*)\) -->\n.*?^<!-- end of generated table -->$",
    re.DOTALL | re.MULTILINE,
)


def render_reference(text: str, root: type[BaseModel]) -> str:
    """`text` with every generated table rewritten from `root`'s models, and tables added for the
    sections it lacks. Raises ConfigDocsError for a field without a docstring, or a table whose
    section is gone."""
    found = sections(root)
    names = {section.model: section.name for section in found}
    tables = {section.name: _table(section, names) for section in found}
    seen: set[str] = set()

    def rewritten(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in tables:
            raise ConfigDocsError(
                f"the table of `{name}` describes a section the configuration no longer has: remove it "
                f"(with its prose), or give its marker the section's new name ({', '.join(tables)})"
            )
        if name in seen:
            raise ConfigDocsError(f"`{name}` has two generated tables: keep one")
        seen.add(name)
        return _block(name, tables[name])

    rendered = _BLOCK.sub(rewritten, text)
    for section in found:
        if section.name not in seen:
            rendered = f"{rendered.rstrip()}\n\n{_new_section(section, tables[section.name])}"
    return rendered if rendered.endswith("\n") else rendered + "\n"


def _block(name: str, table: str) -> str:
    return f"{_BEGIN.format(name=name, command=COMMAND)}\n{table}\n{_END}"


def _new_section(section: Section, table: str) -> str:
    level = "##" if section.top_level else "###"
    heading = "Top-level keys" if section.name == ROOT else f"`{section.name}`"
    intro = " ".join((section.model.__doc__ or "").split())
    parts = [f"{level} {heading}", *([intro] if intro else []), _block(section.name, table)]
    return "\n\n".join(parts) + "\n"


def _table(section: Section, names: dict[type[BaseModel], str]) -> str:
    model = section.model
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        cells = (
            f"`{name}`",
            type_text(field, lambda nested: names[nested]),
            default_text(field),
            meaning_text(model, name, field),
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
