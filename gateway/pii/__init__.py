"""Personal data in requests: detection, masking, pseudonymization with restoration, refusal.

detection/   recognizers (checksums by python-stdnum, phones by phonenumbers, optional spaCy names)
settings     the `pii` configuration section
policy       the modes that apply to one department, service and model
fields       where text sits in each operation's request
redaction    the redact step of the pipeline
pseudonyms   placeholders issued for one request
restore      placeholders back to values in an answer
stream       the same, event by event in an SSE stream
transcript   masking of the personal data a transcript holds (text the caller never sent)
offload      detection in processes of its own, within a time budget per request
"""

from gateway.pii.build import start_redactor
from gateway.pii.errors import PiiBlocked, PiiDetectionFailed
from gateway.pii.redaction import Redaction, Redactor
from gateway.pii.settings import PiiConfig, PiiMode, PiiRule
from gateway.pii.stream import StreamRestorer

__all__ = [
    "PiiBlocked",
    "PiiConfig",
    "PiiDetectionFailed",
    "PiiMode",
    "PiiRule",
    "Redaction",
    "Redactor",
    "StreamRestorer",
    "start_redactor",
]
