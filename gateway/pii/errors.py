"""What the redact step answers when it cannot let a request through. Messages name entity types,
never the values found."""

from __future__ import annotations

from gateway.errors import GatewayError, InvalidRequest, PayloadTooLarge

__all__ = ["PiiBlocked", "PiiDetectionFailed", "PiiDetectionTimeout"]


class PiiBlocked(InvalidRequest):
    """400: the configuration forbids sending these types of personal data to the model."""

    code = "pii_detected"

    def __init__(
        self, entities: list[str], *, param: str | None, counts: dict[str, int] | None = None
    ) -> None:
        super().__init__(
            "The request contains personal data that may not be sent to this model: "
            f"{', '.join(entities)}. Remove it and try again.",
            param=param,
        )
        self.entities = entities
        # Every type found in the request (refused or not), for the audit record and metrics.
        self.counts = counts or {}


class PiiDetectionFailed(GatewayError):
    """500: personal data could not be looked for, so nothing was forwarded (fail closed)."""

    status_code = 500
    error_type = "server_error"
    code = "pii_detection_failed"

    def __init__(self) -> None:
        super().__init__(
            "Personal data detection failed, so the request was not forwarded. "
            "Try again; if it persists, contact the operators."
        )


class PiiDetectionTimeout(PayloadTooLarge):
    """413: the request's text could not be checked for personal data within the time budget, so
    nothing was forwarded (`pii.on_timeout: refuse`)."""

    code = "pii_detection_timeout"

    def __init__(self, budget_seconds: float) -> None:
        super().__init__(
            "The text of this request could not be checked for personal data within the "
            f"{budget_seconds:g} s allowed, so it was not forwarded; send less text per request."
        )
