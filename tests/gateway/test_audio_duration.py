"""The gateway's own reading of an upload's length: exact for WAV and FLAC, bounded by size otherwise,
and never below the real length."""

from __future__ import annotations

import math
import struct

import pytest

from gateway.audio_duration import AUDIO_TOKENS_PER_SECOND, audio_seconds
from gateway.usage import Usage, metered_audio
from tests import audio_samples


@pytest.mark.parametrize(("seconds", "expected"), [(3.2, 4), (1.0, 1), (0.01, 1), (600.0, 600)])
def test_a_wav_lasts_its_frames_rounded_up(seconds: float, expected: int) -> None:
    assert audio_seconds(audio_samples.wav(seconds)) == expected
    assert audio_seconds(audio_samples.wav(seconds, rate=8_000)) == expected


def test_a_wav_header_claiming_more_than_it_holds_counts_what_it_holds() -> None:
    data = bytearray(audio_samples.wav(2.0))
    size_at = data.index(b"data") + 4
    data[size_at : size_at + 4] = struct.pack("<I", 0xFFFF_FFF0)  # a streamed WAV's "unknown" size
    assert audio_seconds(bytes(data)) in (2, 3)  # the header's own bytes count as frames: rounded up


def test_a_wav_the_standard_reader_refuses_is_bounded_by_its_size() -> None:
    data = bytearray(audio_samples.wav(2.0))
    data[20:22] = struct.pack("<H", 3)  # IEEE float: `wave` reads PCM only
    assert audio_seconds(bytes(data)) == math.ceil(len(data) / 1000)


def test_flac_lasts_its_streaminfo_total() -> None:
    assert audio_seconds(audio_samples.flac(10.0)) == 10
    assert audio_seconds(audio_samples.flac(7.5, rate=16_000)) == 8
    unknown = audio_samples.flac(0.0)  # a total of 0: unknown, bounded by the size
    assert audio_seconds(unknown) == math.ceil(len(unknown) / 1000)


def test_mp3_and_ogg_are_bounded_by_their_lowest_bitrate() -> None:
    mp3 = audio_samples.mp3(30.0)  # 128 kbit/s: the bound is 16 times its length
    assert 30 <= audio_seconds(mp3) == math.ceil(len(mp3) / 1000)
    ogg = audio_samples.ogg_opus(30.0) + b"\x00" * 100_000  # the pages a real stream would carry
    assert audio_seconds(ogg) == math.ceil(len(ogg) / 750)


def test_the_backend_s_seconds_win_and_a_missing_usage_takes_those_read() -> None:
    assert metered_audio(None, 0) is None
    assert metered_audio(None, 12) == Usage(0, 0, audio_seconds=12)
    assert metered_audio(Usage(5, 40), 12) == Usage(5, 40, audio_seconds=12)
    assert metered_audio(Usage(0, 0, audio_seconds=11), 12) == Usage(0, 0, audio_seconds=11)


def test_budgets_count_tokens_when_reported_and_seconds_otherwise() -> None:
    assert Usage(5, 40, audio_seconds=12).budget_tokens() == (5, 40)
    assert Usage(0, 0, audio_seconds=12).budget_tokens() == (0, 12 * AUDIO_TOKENS_PER_SECOND)
    assert Usage(0, 0).budget_tokens() == (0, 0)
