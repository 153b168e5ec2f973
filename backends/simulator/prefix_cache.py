"""A cheap model of vLLM's automatic prefix caching, for ``vllm:prefix_cache_{queries,hits}_total``.

vLLM hashes the prompt in blocks of 16 tokens, each hash chained to the previous one, and reuses
the KV blocks of the longest prefix it has seen. We do the same over fixed-size blocks of
UTF-8 bytes (a CRC chained block to block): a repeated system prompt or conversation history then
reports hits, which is what prefix-aware routers look for.
"""

from __future__ import annotations

import zlib

BLOCK_BYTES = 64
"""About 16 tokens of English text."""


class PrefixCache:
    """Remembers chained block hashes; forgets everything when full (eviction need not be clever)."""

    def __init__(self, capacity_blocks: int = 262144) -> None:
        self._capacity = capacity_blocks
        self._blocks: set[int] = set()

    def lookup_and_insert(self, prompt: str) -> float:
        """Fraction of ``prompt`` covered by cached blocks; then caches all of its full blocks."""
        data = prompt.encode("utf-8", "surrogatepass")
        full_blocks = len(data) // BLOCK_BYTES
        if full_blocks == 0:
            return 0.0
        blocks = self._blocks
        chained = 0
        matched_blocks = 0
        still_matching = True
        for index in range(full_blocks):
            chained = zlib.crc32(data[index * BLOCK_BYTES : (index + 1) * BLOCK_BYTES], chained)
            if still_matching and chained in blocks:
                matched_blocks += 1
            else:
                still_matching = False
                blocks.add(chained)
        if len(blocks) > self._capacity:
            blocks.clear()
        return matched_blocks * BLOCK_BYTES / len(data)
