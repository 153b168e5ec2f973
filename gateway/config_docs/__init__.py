"""docs/configuration.md, its tables written from the configuration models' field docstrings.

    python -m gateway.config_docs           rewrite docs/configuration.md (`make config-docs`)
    python -m gateway.config_docs --check   change nothing; exit 1 if it is out of date

Each section of the configuration (every pydantic model reachable from `GatewayConfig`) has a table
in the document: one row per key, with its type and bounds, its default and its docstring. The prose
around the tables is written by hand in the document itself, which rendering keeps; see `_document`.
tests/gateway/test_docs.py renders the document in memory and fails, naming this command, when the
committed file differs: after adding a setting or changing a docstring, run it and commit the result.

A developer's tool, not a `gateway` command: it rewrites a file of the source tree, which an installed
gateway does not have.
"""

from gateway.config_docs._document import COMMAND, REFERENCE, render_reference
from gateway.config_docs._errors import ConfigDocsError

__all__ = ["COMMAND", "REFERENCE", "ConfigDocsError", "render_reference"]
