"""What clients see when a stored response cannot be found or its record cannot be read."""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = ["ResponseNotFound", "ResponseStoreUnavailable"]


class ResponseNotFound(GatewayError):
    """vLLM's words for an unknown id, also for another department's: no oracle."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "response_not_found"

    def __init__(self, response_id: str) -> None:
        super().__init__(f"Response with id '{response_id}' not found.", param="response_id")


class ResponseStoreUnavailable(GatewayError):
    status_code = 503
    error_type = "server_error"
    code = "response_store_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Where stored responses live cannot be read right now. Please retry later.",
            headers={"retry-after": "5"},
        )
