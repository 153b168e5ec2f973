"""The `responses` configuration section: how long the gateway remembers where a response lives."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ResponsesConfig"]


class ResponsesConfig(BaseModel):
    """Stored Responses (`store: true`, vLLM's default, kept when its backends run with
    `VLLM_ENABLE_RESPONSES_API_STORE=1`): their later requests go to the backend that holds them."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    sticky_ttl_seconds: Annotated[int, Field(ge=60, le=90 * 86_400)] = 86_400
    """How long the gateway remembers which backend holds a response (and which department created
    it), counted from its creation. After that, `GET /v1/responses/{id}`, its `cancel` and a
    `previous_response_id` naming it answer 404, even if the backend still keeps it (vLLM never
    forgets one until it restarts). Kept in the `store` (Redis: shared by every replica)."""
