"""The simulator's pure parts: tokenizer, generation, scheduler, metrics formatting, prefix cache."""

from __future__ import annotations

import asyncio
import random

import pytest

from backends.simulator import SimulatorSettings
from backends.simulator.generation import apply_stop_strings, random_pieces, tool_arguments
from backends.simulator.metrics import Histogram, go_float, one_two_five_buckets
from backends.simulator.prefix_cache import PrefixCache
from backends.simulator.scheduler import QueueFullError, Scheduler
from backends.simulator.tokenizer import Tokenizer, count_tokens, split_pieces
from backends.simulator.vocabulary import WORDS


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello, world!",
        "  leading and trailing  ",
        "tab\tand\nnewline",
        "internationalization",
        "café ☕ 東京",
    ],
)
def test_pieces_join_back_to_the_text(text: str) -> None:
    assert "".join(split_pieces(text)) == text


def test_roughly_one_token_per_word_or_mark() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("internationalization") == 3  # long words are cut every eight characters
    assert count_tokens("<s><|user|>\nhi<|end|>") == 4  # special tokens are one token each


def test_every_vocabulary_word_is_one_token() -> None:
    assert all(count_tokens(word) == 1 and count_tokens(" " + word) == 1 for word in WORDS)
    text = "".join(random_pieces(random.Random(1), 200))
    assert count_tokens(text) == 200


def test_tokenizer_ids_round_trip_and_stay_in_the_vocabulary() -> None:
    tokenizer = Tokenizer()
    ids = tokenizer.encode("The data of the ministry, unusualword!", add_bos=True)

    assert ids[0] == 1
    assert all(0 <= token_id < tokenizer.vocab_size for token_id in ids)
    assert tokenizer.decode(ids[1:]) == "The data of the ministry, unusualword!"


def test_stop_strings_cut_and_count() -> None:
    pieces = ["alpha", " beta", " STOP", " gamma"]

    visible, generated, stop = apply_stop_strings(pieces, ["STOP"], include_stop=False)
    assert (visible, generated, stop) == (["alpha", " beta", " "], 3, "STOP")
    visible, _, _ = apply_stop_strings(pieces, ["STOP"], include_stop=True)
    assert "".join(visible) == "alpha beta STOP"
    assert apply_stop_strings(pieces, ["absent"], include_stop=False) == (pieces, 4, None)


def test_tool_arguments_follow_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "mode": {"enum": ["a", "b"]},
            "nested": {"type": "object", "properties": {"inner": {"type": ["null", "integer"]}}},
        },
    }
    import json

    arguments = json.loads(tool_arguments(random.Random(0), schema))

    assert isinstance(arguments["name"], str)
    assert isinstance(arguments["count"], int)
    assert isinstance(arguments["ratio"], float)
    assert isinstance(arguments["flag"], bool)
    assert isinstance(arguments["tags"], list) and isinstance(arguments["tags"][0], str)
    assert arguments["mode"] in ("a", "b")
    assert isinstance(arguments["nested"]["inner"], int)
    assert json.loads(tool_arguments(random.Random(0), None)) == {}


def test_scheduler_hands_slots_over_in_order() -> None:
    async def scenario() -> list[bool]:
        scheduler = Scheduler(max_num_seqs=1, max_queue=2, kv_capacity_tokens=100)
        assert scheduler.try_acquire()
        first = scheduler.enqueue()
        second = scheduler.enqueue()
        with pytest.raises(QueueFullError):
            scheduler.enqueue()
        scheduler.abandon(first)  # the first waiter's client went away
        scheduler.release()
        assert scheduler.running == 1 and scheduler.waiting == 0
        scheduler.release()
        assert scheduler.running == 0
        return [first.result(), second.result()]

    assert asyncio.run(scenario()) == [False, True]


def test_load_factor_doubles_at_saturation() -> None:
    scheduler = Scheduler(max_num_seqs=4, max_queue=0, kv_capacity_tokens=100)
    assert scheduler.load_factor() == 1.0
    for _ in range(4):
        scheduler.try_acquire()
    assert scheduler.load_factor() == 2.0
    scheduler.kv_tokens = 250
    assert scheduler.kv_usage() == 1.0


def test_prometheus_number_format() -> None:
    assert go_float(1) == "1.0"
    assert go_float(0.001) == "0.001"
    assert go_float(float("inf")) == "+Inf"
    assert go_float(1_000_000) == "1e+06"
    assert go_float(1_700_000_000.5) == "1.7000000005e+09"
    assert one_two_five_buckets(100) == (1, 2, 5, 10, 20, 50, 100)


def test_histogram_buckets_are_upper_inclusive() -> None:
    histogram = Histogram((0.1, 1.0))
    histogram.observe(0.1)
    histogram.observe(0.5, times=3)
    histogram.observe(5.0)

    assert histogram.counts == [1, 3, 1]
    assert histogram.count == 5
    assert histogram.total == pytest.approx(6.6)


def test_prefix_cache_matches_the_shared_prefix() -> None:
    cache = PrefixCache()
    shared = "x" * 256

    assert cache.lookup_and_insert(shared + "first") == 0.0
    assert cache.lookup_and_insert(shared + "second") == pytest.approx(256 / 262)
    assert cache.lookup_and_insert("short") == 0.0


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SimulatorSettings()
    with pytest.raises(ValueError, match="error_rate"):
        SimulatorSettings(models=("m",), error_rate=2.0)
    with pytest.raises(ValueError, match="both"):
        SimulatorSettings(models=("m",), embedding_models=("m",))
    assert SimulatorSettings(models=("m",)).primary_model == "m"
