"""What clients of the Files and Batches APIs see when something is wrong, in OpenAI's words."""

from __future__ import annotations

from gateway.errors import GatewayError, InvalidRequest

__all__ = ["BatchInputInvalid", "BatchNotFound", "BatchStoreUnavailable", "FileNotFound"]


class FileNotFound(GatewayError):
    """An unknown file id, also another department's: no oracle."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "file_not_found"

    def __init__(self, file_id: str) -> None:
        super().__init__(f"No such File object: {file_id}", param="id")


class BatchNotFound(GatewayError):
    """An unknown batch id, also another department's: no oracle."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "batch_not_found"

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"No such Batch object: {batch_id}", param="batch_id")


class BatchInputInvalid(InvalidRequest):
    """A batch input file refused at upload, or a batch refused at creation: the message names the
    lines at fault (the first ones, when many are)."""

    code = "invalid_batch_input"


class BatchStoreUnavailable(GatewayError):
    status_code = 503
    error_type = "server_error"
    code = "batch_store_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Where files and batches are kept cannot be read right now. Please retry later.",
            headers={"retry-after": "5"},
        )
