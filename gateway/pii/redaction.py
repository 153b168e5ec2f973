"""The redact step: find personal data in a request and mask, pseudonymize, count or refuse it.

Everything is scanned before anything is changed, so that a refusal leaves no half-redacted request
behind and placeholders are numbered in the order the model reads the values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any, Literal

import msgspec

from gateway.errors import InvalidRequest, PayloadTooLarge
from gateway.parsing import ParsedRequest
from gateway.pii.detection import Finding
from gateway.pii.detection.findings import PERSON
from gateway.pii.errors import PiiBlocked, PiiDetectionFailed, PiiDetectionTimeout
from gateway.pii.fields import Slot, json_document, json_slots, text_slots
from gateway.pii.offload import AsyncDetector, DetectionTimeout
from gateway.pii.policy import PiiPolicy, Treatment
from gateway.pii.pseudonyms import Pseudonyms
from gateway.pii.restore import PlaceholderRestorer
from gateway.pii.settings import PiiConfig
from gateway.pii.transcript import TranscriptMasker

__all__ = ["Redaction", "Redactor"]

logger = logging.getLogger("gateway.pii")

_encode = msgspec.json.encode


class Redaction:
    """What the redact step did to one request: the request to forward, the entity types counted
    and, when values were pseudonymized, what restores them in the answer."""

    __slots__ = ("counts", "parsed", "restorer")

    def __init__(
        self, parsed: ParsedRequest, counts: dict[str, int], restorer: PlaceholderRestorer | None
    ) -> None:
        self.parsed = parsed
        self.counts = counts
        self.restorer = restorer


class _Scan:
    """The findings of one request, slot by slot, before anything is replaced."""

    __slots__ = ("documents", "findings", "scanned_chars")

    def __init__(self) -> None:
        self.findings: list[tuple[Slot, list[Finding]]] = []
        # Tool arguments decoded as JSON: re-encoded into their string when one of their values changes.
        self.documents: list[tuple[Slot, Any]] = []
        self.scanned_chars = 0


class Redactor:
    """Applies the `pii` configuration to requests. One per worker; holds no per-request state."""

    def __init__(
        self,
        policy: PiiPolicy,
        detector: AsyncDetector,
        *,
        fail_open: bool,
        max_scanned_chars: int,
        time_budget_seconds: float = 10.0,
        on_timeout: Literal["refuse", "forward"] = "refuse",
    ) -> None:
        self._policy = policy
        self._detector = detector
        self._fail_open = fail_open
        self._max_scanned_chars = max_scanned_chars
        self._time_budget = time_budget_seconds
        self._on_timeout = on_timeout

    @classmethod
    def from_config(cls, config: PiiConfig, known: tuple[str, ...], detector: AsyncDetector) -> Redactor:
        """The `pii` section applied with `detector`, which finds the entity types in `known`."""
        return cls(
            PiiPolicy(config, known),
            detector,
            fail_open=config.fail_open,
            max_scanned_chars=config.max_scanned_chars,
            time_budget_seconds=config.time_budget_seconds,
            on_timeout=config.on_timeout,
        )

    async def redact(self, parsed: ParsedRequest, department: str, service: str) -> Redaction | None:
        """The request to forward, or None when nothing is looked for; raises PiiBlocked (400),
        PayloadTooLarge or PiiDetectionTimeout (413) or PiiDetectionFailed (500)."""
        treatment = self._policy.treatment(department, service, parsed.model)
        if not treatment.active:
            return None
        pseudonyms = Pseudonyms() if treatment.pseudonymizes else None
        deadline = asyncio.get_running_loop().time() + self._time_budget
        try:
            scan = await self._scan(parsed, treatment, pseudonyms, deadline)
        except (PayloadTooLarge, InvalidRequest):  # the request's own fault: too much text, too deep
            raise
        except DetectionTimeout:
            if self._on_timeout == "forward":
                logger.warning(
                    "PII detection exceeded its %g s budget; forwarding unredacted (on_timeout: forward)",
                    self._time_budget,
                )
                return Redaction(parsed, {}, None)
            raise PiiDetectionTimeout(self._time_budget) from None
        except Exception as exc:
            # Only the exception's type: its message could quote the text being scanned.
            if self._fail_open:
                logger.warning(
                    "PII detection failed (%s); forwarding unredacted (fail_open)", type(exc).__name__
                )
                return Redaction(parsed, {}, None)
            logger.error("PII detection failed (%s); request refused", type(exc).__name__)
            raise PiiDetectionFailed() from None
        return self._apply(parsed, treatment, scan, pseudonyms)

    def transcript_masker(self, department: str, service: str, model: str) -> TranscriptMasker | None:
        """What masks a transcript's personal data in the answer, or None when no entity's mode
        would change a request (gateway/pii/transcript.py says why every such mode masks there)."""
        treatment = self._policy.treatment(department, service, model)
        changed = frozenset(
            entity
            for entity in treatment.scanned
            if treatment.mode_of(entity) in ("mask", "pseudonymize", "block")
        )
        if not changed:
            return None
        return TranscriptMasker(
            self._detector,
            changed.__contains__,
            fail_open=self._fail_open,
            time_budget_seconds=self._time_budget,
        )

    async def close(self) -> None:
        """Stops the detection processes."""
        await self._detector.close()

    async def _scan(
        self, parsed: ParsedRequest, treatment: Treatment, pseudonyms: Pseudonyms | None, deadline: float
    ) -> _Scan:
        scan = _Scan()
        slots: list[Slot] = []
        for slot in self._slots(parsed, scan):
            text = slot.text
            scan.scanned_chars += len(text)
            if scan.scanned_chars > self._max_scanned_chars:
                raise PayloadTooLarge(
                    f"The request holds more than {self._max_scanned_chars} characters of text to check "
                    "for personal data; send less text per request."
                )
            if pseudonyms is not None:
                pseudonyms.reserve_literals(text)
            slots.append(slot)
        found = await self._detector.find([slot.text for slot in slots], deadline)
        scanned = treatment.scanned
        for slot, in_slot in zip(slots, found, strict=True):
            findings = [finding for finding in in_slot if finding.entity in scanned]
            if findings:
                scan.findings.append((slot, findings))
        return scan

    @staticmethod
    def _slots(parsed: ParsedRequest, scan: _Scan) -> Iterator[Slot]:
        for slot in text_slots(parsed.operation, parsed.payload):
            if slot.key == "arguments" and not slot.fixed:
                document = json_document(slot)
                if isinstance(document, dict | list):
                    scan.documents.append((slot, document))
                    yield from json_slots(document, slot.path)
                    continue
            yield slot

    @staticmethod
    def _apply(
        parsed: ParsedRequest, treatment: Treatment, scan: _Scan, pseudonyms: Pseudonyms | None
    ) -> Redaction:
        counts: dict[str, int] = {}
        blocked: dict[str, str] = {}  # entity -> where it was first found
        changes = False
        for slot, findings in scan.findings:
            for finding in findings:
                counts[finding.entity] = counts.get(finding.entity, 0) + 1
                mode = treatment.mode_of(finding.entity)
                # What cannot be rewritten (a URL, a key) is refused wherever it would be changed.
                if mode == "block" or (slot.fixed and mode in ("mask", "pseudonymize")):
                    blocked.setdefault(finding.entity, slot.path)
                elif mode in ("mask", "pseudonymize"):
                    changes = True
        if blocked:
            raise PiiBlocked(sorted(blocked), param=next(iter(blocked.values())), counts=counts)
        if not changes:
            return Redaction(parsed, counts, None)

        if pseudonyms is not None and treatment.mode_of(PERSON) == "pseudonymize":
            pseudonyms.group_people(
                slot.text[finding.start : finding.end]
                for slot, findings in scan.findings
                for finding in findings
                if finding.entity == PERSON
            )
        for slot, findings in scan.findings:
            slot.replace(_replaced(slot.text, findings, treatment, pseudonyms))
        for slot, document in scan.documents:
            slot.replace(_encode(document).decode())
        payload = parsed.payload
        restorer = (
            PlaceholderRestorer(pseudonyms.originals, pseudonyms.written_forms()) if pseudonyms else None
        )
        return Redaction(parsed.with_payload(payload), counts, restorer)


def _replaced(text: str, findings: list[Finding], treatment: Treatment, pseudonyms: Pseudonyms | None) -> str:
    pieces: list[str] = []
    position = 0
    for finding in findings:
        mode = treatment.mode_of(finding.entity)
        if mode == "mask":
            replacement = f"[{finding.entity}]"
        elif mode == "pseudonymize" and pseudonyms is not None:
            replacement = pseudonyms.placeholder(finding.entity, text[finding.start : finding.end])
        else:  # detect: counted, left as written
            continue
        pieces.append(text[position : finding.start])
        pieces.append(replacement)
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)
