"""Backend choice in isolation: the rules behind the routing tests, on hand-made backend states."""

from __future__ import annotations

from gateway.config import GatewayConfig
from gateway.operations import CHAT, COMPLETIONS, EMBEDDINGS
from gateway.routing.pool import ModelPool, affinity_hash, build_pools
from gateway.routing.vllm_metrics import parse_load


def _pool(*urls: str, **routing: object) -> ModelPool:
    config = GatewayConfig.model_validate(
        {"models": [{"name": "m", "backends": [{"url": url} for url in urls], "routing": routing}]}
    )
    pools, _ = build_pools(config)
    return pools["m"]


def test_in_flight_is_counted_before_the_request_leaves() -> None:
    # The choice is made 4 times before any request completes: it must not pile them on one backend.
    pool = _pool("http://127.0.0.1:1", "http://127.0.0.1:2")
    chosen = []
    for _ in range(4):
        backend = pool.choose(None)
        assert backend is not None
        backend.in_flight += 1
        chosen.append(backend.url)
    assert sorted(chosen.count(url) for url in set(chosen)) == [2, 2]


def test_affinity_is_stable_and_yields_to_saturation() -> None:
    pool = _pool("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")
    key = affinity_hash(CHAT, {"messages": [{"role": "user", "content": "bonjour"}]}, 1024)
    assert key is not None
    first = pool.choose(key)
    assert first is not None
    assert all(pool.choose(key) is first for _ in range(10))
    first.waiting = 3.0  # vLLM is queueing there
    moved = pool.choose(key)
    assert moved is not None and moved is not first


def test_affinity_key_is_the_conversation_opening() -> None:
    opening = [{"role": "system", "content": "Tu es utile."}, {"role": "user", "content": "Question 1"}]
    later = [*opening, {"role": "assistant", "content": "Réponse"}, {"role": "user", "content": "Question 2"}]
    other = [{"role": "system", "content": "Tu es utile."}, {"role": "user", "content": "Autre sujet"}]
    key = affinity_hash(CHAT, {"messages": opening}, 1024)
    assert key == affinity_hash(CHAT, {"messages": later}, 1024)
    assert key != affinity_hash(CHAT, {"messages": other}, 1024)
    parts = [{"role": "user", "content": [{"type": "text", "text": "Question 1"}]}]
    assert affinity_hash(CHAT, {"messages": parts}, 1024) is not None
    assert affinity_hash(EMBEDDINGS, {"input": "x"}, 1024) is None


def test_removing_a_backend_moves_only_its_conversations() -> None:
    urls = [f"http://127.0.0.1:{port}" for port in range(1, 5)]
    pool = _pool(*urls)
    keys = [affinity_hash(COMPLETIONS, {"prompt": f"dossier {n}"}, 1024) for n in range(200)]
    before = {key: pool.choose(key) for key in keys}
    gone = pool.backends[0]
    gone.healthy = False
    for key in keys:
        if before[key] is not gone:
            assert pool.choose(key) is before[key]
    assert len({b.url for b in before.values() if b is not None}) == 4


def test_unavailable_backends_are_skipped() -> None:
    pool = _pool("http://127.0.0.1:1", "http://127.0.0.1:2")
    first, second = pool.backends
    first.record_failure(0.0, eject_after=1, eject_seconds=1e9)
    assert first.ejections == 1
    assert pool.choose(None) is second
    assert pool.choose(None, tried=[second]) is None
    first.record_health(True)
    assert pool.choose(None, tried=[second]) is None, "a passing /health must not cut an ejection short"
    first.ejected_until = 0.0  # the ejection has run its course
    assert pool.choose(None, tried=[second]) is first
    first.record_unreachable()
    assert pool.choose(None, tried=[second]) is None
    first.record_health(True)
    assert pool.choose(None, tried=[second]) is first


def test_metrics_parser_reads_current_and_legacy_names() -> None:
    current = (
        "# HELP vllm:num_requests_running Number of requests.\n"
        'vllm:num_requests_running{engine="0",model_name="a b"} 3.0\n'
        'vllm:num_requests_waiting{engine="0",model_name="a b"} 2.0\n'
        'vllm:kv_cache_usage_perc{engine="0",model_name="a b"} 0.5\n'
    )
    load = parse_load(current)
    assert load is not None
    assert (load.running, load.waiting, load.kv_cache_usage) == (3.0, 2.0, 0.5)
    legacy = current.replace("kv_cache_usage_perc", "gpu_cache_usage_perc")
    legacy_load = parse_load(legacy)
    assert legacy_load is not None and legacy_load.kv_cache_usage == 0.5
    assert parse_load("# nothing from vLLM here\nprocess_cpu_seconds_total 1.0\n") is None
