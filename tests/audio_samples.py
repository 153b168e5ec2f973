"""Small audio files of a known duration, built with the standard library or by writing the few
header bytes the simulator and the gateway read (no encoder is needed: nothing decodes the sound)."""

from __future__ import annotations

import io
import struct
import wave


def wav(seconds: float, rate: int = 16_000) -> bytes:
    """Silent 16-bit mono PCM."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


def flac(seconds: float, rate: int = 44_100) -> bytes:
    """The marker and a STREAMINFO block (last block) saying `seconds` of samples."""
    packed = (rate << 44) | (0 << 41) | (15 << 36) | int(seconds * rate)  # mono, 16 bits
    info = struct.pack(">HH", 4096, 4096) + b"\x00" * 6 + packed.to_bytes(8, "big") + b"\x00" * 16
    return b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info


def _ogg_page(packet: bytes, granule: int, sequence: int) -> bytes:
    header = b"OggS" + bytes([0, 0]) + struct.pack("<qIII", granule, 1, sequence, 0)
    return header + bytes([1, len(packet)]) + packet


def ogg_vorbis(seconds: float, rate: int = 44_100) -> bytes:
    ident = b"\x01vorbis" + struct.pack("<IBI", 0, 1, rate) + b"\x00" * 13
    return _ogg_page(ident, 0, 0) + _ogg_page(b"\x00" * 8, int(seconds * rate), 1)


def ogg_opus(seconds: float, pre_skip: int = 312) -> bytes:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48_000, 0, 0)
    return _ogg_page(head, 0, 0) + _ogg_page(b"\x00" * 8, int(seconds * 48_000) + pre_skip, 1)


# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding, mono: 417-byte frames of 1152 samples.
_MP3_HEADER = bytes([0xFF, 0xFB, 0x90, 0xC0])
_MP3_FRAME = _MP3_HEADER + b"\x00" * (417 - 4)


def mp3(seconds: float, *, xing: bool = False, id3: bool = True) -> bytes:
    """Frames of silence (walked frame by frame), or one Xing frame stating the frame count."""
    frames = round(seconds * 44_100 / 1152)
    tag = b"ID3\x04\x00\x00" + bytes([0, 0, 0, 10]) + b"\x00" * 10 if id3 else b""
    if xing:
        # The Xing header follows a mono MPEG-1 frame's 17 bytes of side information.
        body = _MP3_HEADER + b"\x00" * 17 + b"Xing" + struct.pack(">II", 1, frames)
        return tag + body + b"\x00" * (417 - len(body))
    return tag + _MP3_FRAME * frames
