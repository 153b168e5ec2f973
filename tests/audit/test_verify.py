"""`verify_chain`: an intact chain passes; each way of altering it is caught, at the right line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
import pytest

from gateway.audit import AuditError, ChainedAuditLine, line_hash, series_files, verify_chain
from tests.audit.conftest import edit_line, lines_of, make_line, make_record, write_log


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """A chained log of 10 lines, written by the real writer."""
    path = tmp_path / "audit.jsonl"
    asyncio.run(write_log(path, [make_record(index) for index in range(10)], hash_chain=True))
    return path


@pytest.fixture
def rotated_chain(tmp_path: Path) -> list[Path]:
    """A chained log of 30 lines over several rotated files."""
    path = tmp_path / "rotated.jsonl"
    records = [make_record(index) for index in range(30)]
    asyncio.run(write_log(path, records, hash_chain=True, rotate_bytes=2000))
    files = series_files(path)
    assert len(files) >= 4
    return files


def change_field(name: str, value: object) -> object:
    def change(line: bytes) -> bytes:
        data = json.loads(line)
        data[name] = value
        return json.dumps(data, separators=(",", ":")).encode() + b"\n"

    return change


def problems(paths: list[Path], **options: bool) -> list[tuple[str, int, str]]:
    result = verify_chain(paths, **options)
    return [(Path(problem.path).name, problem.line, problem.kind) for problem in result.problems]


def test_an_intact_chain_verifies(chain: Path) -> None:
    result = verify_chain([chain])
    assert result.intact
    assert (result.lines, result.records, result.first_seq, result.last_seq) == (10, 10, 1, 10)
    assert result.last_hash == line_hash(lines_of(chain)[-1])
    assert result.files == (str(chain),)


def test_an_edited_field_is_caught_at_the_edited_line(chain: Path) -> None:
    edit_line(
        chain, 5, change_field("status", 200 if json.loads(lines_of(chain)[4])["status"] != 200 else 500)
    )
    result = verify_chain([chain])
    assert [(problem.line, problem.kind) for problem in result.problems] == [(5, "hash_mismatch")]
    assert "this line was edited" in result.problems[0].detail
    assert str(result.problems[0]).startswith(f"{chain}:5: hash mismatch: ")


def test_an_edit_of_a_single_byte_is_caught(chain: Path) -> None:
    edit_line(chain, 3, lambda line: line.replace(b'"dgfip"', b'"dgfiq"'))
    assert problems([chain]) == [("audit.jsonl", 3, "hash_mismatch")]


def test_a_removed_line_is_caught_where_it_was(chain: Path) -> None:
    lines = chain.read_bytes().splitlines(keepends=True)
    chain.write_bytes(b"".join(lines[:4] + lines[5:]))  # line 5 (seq 5) removed
    result = verify_chain([chain])
    assert [(problem.line, problem.kind) for problem in result.problems] == [(5, "sequence")]
    assert "seq 6 follows seq 4 (line 4): 1 line(s) missing" in result.problems[0].detail


def test_two_reordered_lines_are_caught_where_the_order_breaks(chain: Path) -> None:
    lines = chain.read_bytes().splitlines(keepends=True)
    lines[4], lines[5] = lines[5], lines[4]
    chain.write_bytes(b"".join(lines))
    assert problems([chain]) == [("audit.jsonl", 5, "sequence"), ("audit.jsonl", 6, "sequence")]


def test_a_repeated_line_is_caught_where_it_was_inserted(chain: Path) -> None:
    lines = chain.read_bytes().splitlines(keepends=True)
    chain.write_bytes(b"".join([*lines[:5], lines[2], *lines[5:]]))  # line 3 again as line 6
    result = verify_chain([chain])
    assert [(problem.line, problem.kind) for problem in result.problems] == [(6, "sequence")]
    assert "seq 3 follows seq 5 (line 5): a line was inserted, repeated or moved here" in str(
        result.problems[0]
    )


def test_a_forged_line_that_chains_to_its_predecessor_is_caught_at_the_next_line(chain: Path) -> None:
    lines = chain.read_bytes().splitlines(keepends=True)
    # A forger who knows the format: seq and prev consistent with line 5.
    forged = msgspec.json.encode(
        ChainedAuditLine(
            **msgspec.structs.asdict(make_line(77)), seq=6, prev=line_hash(lines[4].rstrip(b"\n"))
        )
    )
    chain.write_bytes(b"".join([*lines[:5], forged + b"\n", *lines[5:]]))
    result = verify_chain([chain])
    assert [(problem.line, problem.kind) for problem in result.problems] == [(7, "sequence")]
    assert "seq 6 follows seq 6 (line 6)" in result.problems[0].detail


def test_an_inserted_line_that_is_not_a_chained_record_is_caught(chain: Path) -> None:
    lines = chain.read_bytes().splitlines(keepends=True)
    inserted = msgspec.json.encode(make_line(50)) + b"\n"  # a line without seq and prev
    chain.write_bytes(b"".join([*lines[:3], inserted, *lines[3:]]))
    result = verify_chain([chain])
    assert [(problem.line, problem.kind) for problem in result.problems] == [(4, "malformed")]
    assert "missing required field `seq`" in result.problems[0].detail


def test_a_renumbered_line_is_caught(chain: Path) -> None:
    edit_line(chain, 7, change_field("seq", 70))
    found = problems([chain])
    assert found[0] == ("audit.jsonl", 7, "sequence")


def test_a_second_chain_appended_to_a_first_is_one_break_not_one_per_line(
    chain: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.jsonl"
    asyncio.run(write_log(other, [make_record(index) for index in range(5)], hash_chain=True))
    chain.write_bytes(chain.read_bytes() + other.read_bytes())
    assert problems([chain]) == [("audit.jsonl", 11, "sequence")]
    assert verify_chain([chain]).last_seq == 5


def test_a_line_cut_short_is_reported(chain: Path) -> None:
    chain.write_bytes(chain.read_bytes()[:-30])
    assert problems([chain]) == [("audit.jsonl", 10, "incomplete")]


def test_a_missing_beginning_is_reported_unless_partial(chain: Path) -> None:
    chain.write_bytes(b"".join(chain.read_bytes().splitlines(keepends=True)[3:]))
    assert problems([chain]) == [("audit.jsonl", 1, "start")]
    result = verify_chain([chain], partial=True)
    assert result.intact and (result.first_seq, result.last_seq) == (4, 10)


def test_the_end_of_a_chain_is_only_protected_by_its_last_hash_kept_elsewhere(chain: Path) -> None:
    kept = verify_chain([chain]).last_hash
    edit_line(chain, 10, change_field("status", 599))
    result = verify_chain([chain])
    assert result.intact  # nothing follows the last line to betray the edit...
    assert result.last_hash != kept  # ...but its hash no longer matches the one kept


def test_a_chain_across_rotated_files_verifies_and_breaks_are_located_in_their_file(
    rotated_chain: list[Path],
) -> None:
    result = verify_chain(rotated_chain)
    assert result.intact and result.records == 30
    # The last line of the second file removed: the break shows at the third file's first line.
    second = rotated_chain[1]
    second.write_bytes(b"".join(second.read_bytes().splitlines(keepends=True)[:-1]))
    result = verify_chain(rotated_chain)
    assert [(Path(p.path), p.line, p.kind) for p in result.problems] == [(rotated_chain[2], 1, "sequence")]
    assert f"({second}:" in result.problems[0].detail


def test_an_edit_of_a_file_s_last_line_is_caught_in_the_next_file(rotated_chain: list[Path]) -> None:
    first = rotated_chain[0]
    last = len(lines_of(first))
    edit_line(first, last, change_field("department", "dinum"))
    assert problems(rotated_chain) == [(first.name, last, "hash_mismatch")]


def test_files_given_in_the_wrong_order_are_caught(rotated_chain: list[Path]) -> None:
    swapped = [rotated_chain[1], rotated_chain[0], *rotated_chain[2:]]
    found = problems(swapped, partial=True)
    assert found[0] == (rotated_chain[0].name, 1, "sequence")


def test_problems_beyond_the_limit_are_counted(chain: Path) -> None:
    for number in range(1, 10):
        edit_line(chain, number, change_field("model", "other"))
    result = verify_chain([chain], max_problems=3)
    assert len(result.problems) == 3 and result.more_problems == 6


def test_an_unreadable_file_is_an_error_not_a_result(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match=r"missing\.jsonl: cannot be read"):
        verify_chain([tmp_path / "missing.jsonl"])
