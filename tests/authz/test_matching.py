"""The policies' one wildcard: `*` is any run of characters, everything else is literal."""

from __future__ import annotations

import pytest

from gateway.authz import wildcard_match


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("mistral-small", "mistral-small", True),
        ("mistral-small", "mistral-*", True),
        ("mistral-", "mistral-*", True),
        ("mixtral-8x7b", "mistral-*", False),
        ("llama-3.1-8b-instruct", "*-instruct", True),
        ("llama-3.1-8b", "*-instruct", False),
        ("mistralai/Mistral-7B-Instruct", "*", True),
        ("mistralai/Mistral-7B-Instruct", "mistralai/*", True),
        ("meta/llama-3-70b-chat", "meta/*-70b-*", True),
        ("meta/llama-3-8b-chat", "meta/*-70b-*", False),
        ("llama-3x1", "llama-3.1", False),
        ("a", "?", False),
        ("[x]", "[x]", True),
        ("x", "[x]", False),
        ("dgfip", "*", True),
        ("", "*", True),
        ("dgfip-sud", "dgfip", False),
    ],
)
def test_wildcard_match(value: str, pattern: str, expected: bool) -> None:
    assert wildcard_match(value, pattern) is expected
