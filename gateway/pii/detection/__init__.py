"""Personal data detection: the recognizers, without any policy about what to do with findings.

    detector = Detector()                 # identifiers and names; Detector(ner=True) adds spaCy
    for finding in detector.find(text):   # sorted by start, never overlapping
        text[finding.start : finding.end], finding.entity

findings    Finding and the entity type names
patterns    the combined regular expression that finds candidates in one pass
validators  checksums (python-stdnum), phone plans (phonenumbers), IP addresses (ipaddress)
numbers     which identifier a run of digits holds, by grouping and checksum
context     words around a candidate (identity documents, amounts)
scanner     the pass over a text, candidate by candidate
name_words  the words around names (civilities, place types, functions...), written by hand
lexicon     INSEE's given and family names, in one automaton built once per process
persons     people's names, from the lexicon and the evidence around them
places      communes tied to a person ("né à Nantes")
ner         spaCy's fr_core_news_sm, an optional second opinion on names, loaded once per process
detector    Detector, which puts the above together
"""

from gateway.pii.detection.detector import Detector
from gateway.pii.detection.findings import ENTITY_TYPES, Finding
from gateway.pii.detection.ner import NerUnavailable

__all__ = ["ENTITY_TYPES", "Detector", "Finding", "NerUnavailable"]
