"""How long an uploaded audio file plays, read from its headers: WAV, FLAC, Ogg (Vorbis, Opus), MP3.

vLLM decodes the whole file; the simulator only needs its duration (the transcript's length and the
``usage.seconds`` it reports), which each format states in a few header bytes:

- WAV: the ``wave`` module's frame count and rate;
- FLAC: STREAMINFO, the first metadata block, holds the sample rate and the total samples;
- Ogg: the last page's granule position is the stream's last sample, counted at the identification
  header's rate (Vorbis) or always at 48 kHz after the pre-skip (Opus);
- MP3 (MPEG-1/2/2.5 Layer III): a Xing/Info header in the first frame gives the frame count; without
  one every frame header is walked, each frame a fixed number of samples.

Anything else, or a file cut short, is not audio: ``None``.
"""

from __future__ import annotations

import io
import struct
import wave

__all__ = ["audio_duration"]

_OPUS_RATE = 48_000
# Layer III bitrates (kbit/s) by index, for MPEG-1 and for MPEG-2/2.5; index 0 ("free") is refused.
_MPEG1_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MPEG1_RATES = (44_100, 48_000, 32_000)


def audio_duration(data: bytes) -> float | None:
    """Seconds of audio in ``data``, or ``None`` when it is no audio file the simulator can read."""
    try:
        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            return _wav(data)
        if data[:4] == b"fLaC":
            return _flac(data)
        if data[:4] == b"OggS":
            return _ogg(data)
        return _mp3(data)
    except (wave.Error, EOFError, struct.error, IndexError, ZeroDivisionError):
        return None


def _wav(data: bytes) -> float | None:
    with wave.open(io.BytesIO(data)) as audio:
        rate = audio.getframerate()
        return audio.getnframes() / rate if rate else None


def _flac(data: bytes) -> float | None:
    # After the marker: a 4-byte block header (STREAMINFO is type 0), then the block: min/max block
    # size (2+2), min/max frame size (3+3), then 20 bits of rate, 3 of channels, 5 of bits per
    # sample and 36 of total samples.
    if data[4] & 0x7F != 0:
        return None
    packed = int.from_bytes(data[18:26], "big")
    rate = packed >> 44
    samples = packed & ((1 << 36) - 1)
    return samples / rate if rate else None


def _ogg(data: bytes) -> float | None:
    # The first page's first packet identifies the codec: a 27-byte page header, then one byte per
    # segment of the segment table.
    segments = data[26]
    packet = data[27 + segments :]
    last = data.rfind(b"OggS")
    granule: int = struct.unpack_from("<q", data, last + 6)[0]
    if packet.startswith(b"\x01vorbis"):
        rate: int = struct.unpack_from("<I", packet, 12)[0]
        return granule / rate if rate else None
    if packet.startswith(b"OpusHead"):
        pre_skip: int = struct.unpack_from("<H", packet, 10)[0]
        return max(granule - pre_skip, 0) / _OPUS_RATE
    return None


def _id3_end(data: bytes) -> int:
    """Where the audio starts after an ID3v2 tag (its size is 4 bytes of 7 bits each)."""
    if data[:3] != b"ID3":
        return 0
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def _frame(data: bytes, at: int) -> tuple[int, int, int, bool] | None:
    """A Layer III frame header at ``at``: (frame length, samples per frame, rate, MPEG-1 or not)."""
    if at + 4 > len(data):
        return None
    header = int.from_bytes(data[at : at + 4], "big")
    if header >> 21 != 0x7FF:  # 11 bits of frame sync
        return None
    version = (header >> 19) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer = (header >> 17) & 3  # 1: Layer III
    bitrate_index = (header >> 12) & 15
    rate_index = (header >> 10) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    rate = _MPEG1_RATES[rate_index] // (1 if mpeg1 else 2 if version == 2 else 4)
    kbps = (_MPEG1_KBPS if mpeg1 else _MPEG2_KBPS)[bitrate_index]
    samples = 1152 if mpeg1 else 576
    padding = (header >> 9) & 1
    return samples // 8 * kbps * 1000 // rate + padding, samples, rate, mpeg1


def _mp3(data: bytes) -> float | None:
    at = _id3_end(data)
    first = _frame(data, at)
    if first is None:
        return None
    _, samples, rate, mpeg1 = first
    mono = (data[at + 3] >> 6) == 3
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    xing = at + 4 + side_info
    if data[xing : xing + 4] in (b"Xing", b"Info") and data[xing + 7] & 1:
        frames = int.from_bytes(data[xing + 8 : xing + 12], "big")
        return frames * samples / rate
    total = 0
    while (frame := _frame(data, at)) is not None:
        total += frame[1]
        at += frame[0]
    return total / rate
