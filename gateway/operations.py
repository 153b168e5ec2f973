"""The OpenAI operations the gateway serves, and the upstream path of each."""

from __future__ import annotations

import enum

__all__ = ["Operation"]


class Operation(enum.Enum):
    """One kind of request; the value is its name in policies, metrics and traces."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"

    @property
    def upstream_path(self) -> str:
        return _PATHS[self]

    @property
    def streams_with_usage_option(self) -> bool:
        """Whether vLLM understands `stream_options.include_usage` for this operation."""
        return self in (Operation.CHAT, Operation.COMPLETIONS)


_PATHS = {
    Operation.CHAT: "/v1/chat/completions",
    Operation.COMPLETIONS: "/v1/completions",
    Operation.EMBEDDINGS: "/v1/embeddings",
    Operation.RESPONSES: "/v1/responses",
}
