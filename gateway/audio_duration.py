"""How long an uploaded audio file lasts, at most, read by the gateway before it is forwarded.

The quota reservation needs a bound before the backend has decoded anything, and a translation (whose
answer reports no usage) is metered with it. WAV and FLAC say their length in their header: the WAV
`data` chunk's frames (never more than the bytes received hold) over its frame rate, FLAC's
STREAMINFO total samples over its sample rate. MP3 and Ogg would need their whole stream walked, so
they are bounded by their size at the lowest bitrate their codecs encode at: a bound, often several
times the real length, never below it. Anything unreadable gets the MP3 bound too (the backend
refuses what it cannot decode, and a refusal is not charged).

A header that understates its file's length (a FLAC whose total is wrong) is taken at its word: the
decoder may read further. Transcriptions are settled with the seconds the backend reports, so only
the reservation and a translation's metering would be short.
"""

from __future__ import annotations

import io
import math
import wave

__all__ = ["AUDIO_TOKENS_PER_SECOND", "audio_seconds"]

AUDIO_TOKENS_PER_SECOND = 15
"""Tokens a transcription of one second of audio can produce, at most: what the budgets reserve for
it, and charge for an answer that reports seconds instead of tokens. Whisper-style models decode 30
seconds of audio at a time with at most 448 tokens (prompt and text: their `max_target_positions`,
vLLM's `max_model_len` for them), i.e. under 15 per second whatever is said; fast speech is about 4 to
6 tokens per second, so the reservation is generous, never short."""

_MP3_BYTES_PER_SECOND = 1000
"""8 kbit/s: the lowest bitrate of MPEG audio (MPEG-2.5 layer III)."""
_OGG_BYTES_PER_SECOND = 750
"""6 kbit/s: Opus' lowest bitrate, below Vorbis' lowest (the codecs vLLM's decoder reads in Ogg)."""


def audio_seconds(data: bytes) -> int:
    """Whole seconds that `data` lasts at most (rounded up, as a backend bills them); at least 1."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        seconds = _wav_seconds(data)
    elif data[:4] == b"fLaC":
        seconds = _flac_seconds(data)
    elif data[:4] == b"OggS":
        seconds = len(data) / _OGG_BYTES_PER_SECOND
    else:
        seconds = None
    if seconds is None:
        seconds = len(data) / _MP3_BYTES_PER_SECOND
    return max(1, math.ceil(seconds))


def _wav_seconds(data: bytes) -> float | None:
    """The frames of the `data` chunk over the frame rate; None when `wave` cannot read the header
    (a compressed, float or extensible WAV: their length is then bounded by the size)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as audio:
            frames = audio.getnframes()
            rate = audio.getframerate()
            frame_bytes = audio.getnchannels() * audio.getsampwidth()
    except (wave.Error, EOFError, ValueError):
        return None
    if rate <= 0 or frame_bytes <= 0:
        return None
    # A streamed WAV's header may claim the largest size: the bytes received are what is decoded.
    return min(frames, len(data) // frame_bytes) / rate


def _flac_seconds(data: bytes) -> float | None:
    """STREAMINFO (the first metadata block, 34 bytes after its 4-byte header): its 20-bit sample rate
    and 36-bit total samples sit in the 8 bytes at offset 18. None when either is 0 (unknown)."""
    if len(data) < 42 or data[4] & 0x7F != 0:
        return None
    packed = int.from_bytes(data[18:26], "big")
    rate = packed >> 44
    total = packed & (2**36 - 1)
    if rate == 0 or total == 0:
        return None
    return total / rate
