"""`python -m tests.pii.corpus --out corpus.jsonl`: the corpus as JSON Lines, one sentence a line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import DEFAULT_SEED, DEFAULT_SIZE, generate_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pii.corpus", description=__doc__)
    parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    arguments = parser.parse_args(argv)
    lines = "".join(
        json.dumps(sentence.to_json(), ensure_ascii=False) + "\n"
        for sentence in generate_corpus(seed=arguments.seed, size=arguments.size)
    )
    if arguments.out is None:
        sys.stdout.write(lines)
    else:
        arguments.out.write_text(lines, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
