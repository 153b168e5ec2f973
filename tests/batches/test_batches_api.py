"""The Files and Batches APIs end to end with the official `openai` SDK, on the embedded store, against
two simulators: upload, validation with line numbers, a batch run through the pipeline, its output
file, cancel, expiry, and one department never seeing another's files or batches."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from gateway.batches.cli import run_batches
from gateway.cli import _parser
from gateway.config import GatewayConfig
from gateway.identity import open_key_store
from tests.batches.conftest import FINAL, chat_file, chat_line, jsonl, sdk, wait_for_status
from tests.gateway.conftest import CHAT_MODEL, RunningGateway, issue_key, running_gateway, running_simulator


def _batches_config(folder: Path, **overrides: object) -> dict[str, object]:
    return {"directory": str(folder / "files"), "poll_seconds": 0.05, **overrides}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    folder = tmp_path_factory.mktemp("batches")
    with running_simulator(CHAT_MODEL) as one, running_simulator(CHAT_MODEL) as two:
        models = [{"name": CHAT_MODEL, "backends": [{"url": one}, {"url": two}]}]
        with running_gateway(models, batches=_batches_config(folder)) as running:
            yield running


def test_a_batch_runs_through_the_gateway_and_its_output_has_every_custom_id_once(
    gateway: RunningGateway,
) -> None:
    client = sdk(gateway)
    uploaded = client.files.create(file=("requests.jsonl", chat_file(40)), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.filename == "requests.jsonl"
    assert client.files.retrieve(uploaded.id).bytes == uploaded.bytes

    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"project": "courrier"},
    )
    assert batch.status == "validating" and batch.metadata == {"project": "courrier"}
    done = wait_for_status(client, batch.id, FINAL)

    assert done.status == "completed", done
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (
        40,
        40,
        0,
    )
    assert done.output_file_id is not None and done.error_file_id is None
    assert done.in_progress_at is not None and done.completed_at is not None
    lines = jsonl(client.files.content(done.output_file_id).content)
    assert Counter(line["custom_id"] for line in lines) == Counter(f"request-{n}" for n in range(40))
    for line in lines:
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert line["response"]["status_code"] == 200
        assert line["response"]["body"]["object"] == "chat.completion"
    assert done.usage is not None and done.usage.output_tokens == 40 * 4
    assert client.files.retrieve(done.output_file_id).purpose == "batch_output"
    assert batch.id in [listed.id for listed in client.batches.list()]
    with pytest.raises(openai.BadRequestError, match="completed"):  # too late to cancel
        client.batches.cancel(batch.id)
    assert {uploaded.id, done.output_file_id} <= {file.id for file in client.files.list()}


def test_a_malformed_input_file_is_refused_with_its_line_numbers(gateway: RunningGateway) -> None:
    content = "\n".join(
        [
            chat_line("a"),
            "{not json",
            chat_line("b"),
            chat_line("a"),
            json.dumps({"custom_id": "c", "method": "POST", "url": "/v1/images", "body": {}}),
            chat_line("d", model="no-such-model"),
            json.dumps(
                {
                    "custom_id": "e",
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": {"model": CHAT_MODEL},
                }
            ),
        ]
    ).encode()
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(gateway).files.create(file=("bad.jsonl", content), purpose="batch")
    message = refused.value.message
    assert refused.value.code == "invalid_batch_input"
    for expected in (
        "line 2: not a JSON object",
        "line 4: `custom_id` 'a' is already used on line 1",
        "line 5: `url` must be one of",
        "line 6: the model `no-such-model` does not exist",
        "line 7:",
    ):
        assert expected in message, message
    assert "line 1:" not in message and "line 3:" not in message


def test_a_file_over_the_limits_and_a_streamed_line_are_refused(tmp_path: Path) -> None:
    with running_simulator(CHAT_MODEL) as sim:
        models = [{"name": CHAT_MODEL, "backends": [{"url": sim}]}]
        config = _batches_config(tmp_path, max_lines=3, max_file_bytes=2048)
        with running_gateway(models, batches=config) as small:
            client = sdk(small)
            with pytest.raises(openai.APIStatusError, match="larger than 2048 bytes") as too_large:
                client.files.create(file=("huge.jsonl", chat_file(20)), purpose="batch")
            assert too_large.value.status_code == 413
            with pytest.raises(openai.BadRequestError, match="more than 3 requests"):
                client.files.create(file=("big.jsonl", chat_file(4)), purpose="batch")
            streamed = json.loads(chat_line("s"))
            streamed["body"]["stream"] = True
            with pytest.raises(openai.BadRequestError, match="line 1: a batch's requests cannot be streamed"):
                client.files.create(file=("s.jsonl", json.dumps(streamed).encode()), purpose="batch")
            with pytest.raises(openai.BadRequestError, match="purpose"):
                client.files.create(file=("f.jsonl", chat_file(1)), purpose="fine-tune")


def test_another_department_cannot_see_read_delete_or_cancel(gateway: RunningGateway) -> None:
    owner = sdk(gateway)
    uploaded = owner.files.create(file=("mine.jsonl", chat_file(2)), purpose="batch")
    batch = owner.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    other = sdk(gateway, issue_key(gateway.state.config, "dinum", "etalab"))

    for attempt in (
        lambda: other.files.retrieve(uploaded.id),
        lambda: other.files.content(uploaded.id),
        lambda: other.files.delete(uploaded.id),
        lambda: other.batches.retrieve(batch.id),
        lambda: other.batches.cancel(batch.id),
        lambda: other.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        ),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert uploaded.id not in {file.id for file in other.files.list()}
    assert batch.id not in {listed.id for listed in other.batches.list()}
    # The owner still has both.
    assert owner.files.retrieve(uploaded.id).id == uploaded.id
    assert wait_for_status(owner, batch.id, FINAL).status == "completed"


def test_a_deleted_file_is_gone(gateway: RunningGateway) -> None:
    client = sdk(gateway)
    uploaded = client.files.create(file=("gone.jsonl", chat_file(1)), purpose="batch")
    deleted = client.files.delete(uploaded.id)
    assert deleted.deleted and deleted.id == uploaded.id
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(uploaded.id)


def test_cancel_keeps_the_results_so_far(tmp_path: Path) -> None:
    # 100 lines at 200 ms each, two at a time: the batch is cancelled well before its end.
    with running_simulator(CHAT_MODEL, ttft_ms=200.0) as sim:
        models = [{"name": CHAT_MODEL, "backends": [{"url": sim}]}]
        with running_gateway(models, batches=_batches_config(tmp_path, concurrency=2)) as running:
            client = sdk(running)
            uploaded = client.files.create(file=("slow.jsonl", chat_file(100)), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            wait_for_status(client, batch.id, {"in_progress"})
            cancelling = client.batches.cancel(batch.id)
            assert cancelling.status in ("cancelling", "cancelled")
            done = wait_for_status(client, batch.id, FINAL)
            assert done.status == "cancelled" and done.cancelled_at is not None
            assert done.request_counts is not None and done.request_counts.completed < 100
            if done.output_file_id is not None:
                lines = jsonl(client.files.content(done.output_file_id).content)
                assert len(lines) == done.request_counts.completed
                assert len({line["custom_id"] for line in lines}) == len(lines)
            assert client.batches.cancel(batch.id).status == "cancelled"  # asked again: the same


def test_a_batch_not_done_within_its_window_expires(tmp_path: Path) -> None:
    # A 2-second window for 60 lines of 300 ms each, one at a time: most cannot run.
    with running_simulator(CHAT_MODEL, ttft_ms=300.0) as sim:
        models = [{"name": CHAT_MODEL, "backends": [{"url": sim}]}]
        config = _batches_config(tmp_path, concurrency=1, completion_window_seconds=2)
        with running_gateway(models, batches=config) as running:
            client = sdk(running)
            uploaded = client.files.create(file=("late.jsonl", chat_file(60)), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            assert batch.expires_at == batch.created_at + 2
            done = wait_for_status(client, batch.id, FINAL, seconds=30)
            assert done.status == "expired" and done.expired_at is not None
            assert done.error_file_id is not None
            expired = [
                line
                for line in jsonl(client.files.content(done.error_file_id).content)
                if line["response"] is None
            ]
            assert expired and all(line["error"]["code"] == "batch_expired" for line in expired)
            answered = jsonl(client.files.content(done.output_file_id).content) if done.output_file_id else []
            seen = [line["custom_id"] for line in [*answered, *expired]]
            assert sorted(seen) == sorted(f"request-{n}" for n in range(60))


def test_the_command_line_lists_shows_and_cancels(tmp_path: Path) -> None:
    with running_simulator(CHAT_MODEL, ttft_ms=200.0) as sim:
        models = [{"name": CHAT_MODEL, "backends": [{"url": sim}]}]
        with running_gateway(models, batches=_batches_config(tmp_path, concurrency=1)) as running:
            client = sdk(running)
            uploaded = client.files.create(file=("cli.jsonl", chat_file(50)), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            config = running.state.config

            def command(*arguments: str) -> tuple[int, str]:
                out = io.StringIO()
                args = _parser().parse_args(["batches", *arguments])
                return run_batches(args, config.store, config.batches, out), out.getvalue()

            status, listing = command("list")
            assert status == 0 and batch.id in listing and "/50" in listing and " dgfip " in listing
            status, shown = command("show", batch.id)
            assert status == 0 and json.loads(shown)["id"] == batch.id
            assert command("list", "--department", "dinum")[1].count("\n") == 1  # the header only
            status, cancelled = command("cancel", batch.id)
            assert status == 0 and cancelled.strip() in (f"{batch.id}: cancelling", f"{batch.id}: cancelled")
            assert wait_for_status(client, batch.id, FINAL).status == "cancelled"
            assert command("show", "batch_unknown")[0] == 1


async def _revoke(config: GatewayConfig, key_id: str) -> None:
    """As `gateway keys revoke` does, on the store's file."""
    store = await open_key_store(config.store)
    try:
        assert await store.revoke(key_id, int(time.time()))
    finally:
        await store.close()


def test_a_revoked_key_stops_its_batch(tmp_path: Path) -> None:
    with running_simulator(CHAT_MODEL, ttft_ms=200.0) as sim:
        models = [{"name": CHAT_MODEL, "backends": [{"url": sim}]}]
        with running_gateway(models, batches=_batches_config(tmp_path, concurrency=1)) as running:
            client = sdk(running)
            uploaded = client.files.create(file=("long.jsonl", chat_file(200)), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            wait_for_status(client, batch.id, {"in_progress"})
            key_id = running.api_key.split("_")[1]
            reader = sdk(running, issue_key(running.state.config))  # the department's other key
            asyncio.run(_revoke(running.state.config, key_id))
            done = wait_for_status(reader, batch.id, FINAL, seconds=30)
            assert done.status == "failed" and done.errors is not None and done.errors.data is not None
            assert done.errors.data[0].code == "key_not_active"
            assert done.request_counts is not None and done.request_counts.completed < 200


def test_a_small_batch_does_not_wait_for_a_large_one(tmp_path: Path) -> None:
    with running_simulator(CHAT_MODEL, ttft_ms=100.0) as sim:
        models = [{"name": CHAT_MODEL, "backends": [{"url": sim}]}]
        with running_gateway(models, batches=_batches_config(tmp_path, concurrency=2)) as running:
            large_client = sdk(running)
            small_client = sdk(running, issue_key(running.state.config, "dinum", "etalab"))
            large_file = large_client.files.create(file=("large.jsonl", chat_file(60)), purpose="batch")
            small_file = small_client.files.create(file=("small.jsonl", chat_file(4)), purpose="batch")
            large = large_client.batches.create(
                input_file_id=large_file.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            wait_for_status(large_client, large.id, {"in_progress"})
            small = small_client.batches.create(
                input_file_id=small_file.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            assert wait_for_status(small_client, small.id, FINAL).status == "completed"
            counts = large_client.batches.retrieve(large.id).request_counts
            assert counts is not None and counts.completed < 40, "the small batch waited for the large one"


def test_failed_requests_go_to_the_error_file_with_their_answer(tmp_path: Path) -> None:
    with running_simulator(CHAT_MODEL, error_rate=1.0) as sim:
        models = [{"name": CHAT_MODEL, "backends": [{"url": sim}]}]
        with running_gateway(models, batches=_batches_config(tmp_path)) as running:
            client = sdk(running)
            uploaded = client.files.create(file=("failing.jsonl", chat_file(3)), purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            done = wait_for_status(client, batch.id, FINAL)
            assert done.status == "completed" and done.output_file_id is None
            assert done.request_counts is not None and done.request_counts.failed == 3
            assert done.error_file_id is not None
            lines = jsonl(client.files.content(done.error_file_id).content)
            assert sorted(line["custom_id"] for line in lines) == ["request-0", "request-1", "request-2"]
            for line in lines:
                assert line["response"]["status_code"] >= 400 and line["error"] is None
                assert line["response"]["request_id"].startswith("req-")
                assert "error" in line["response"]["body"]
